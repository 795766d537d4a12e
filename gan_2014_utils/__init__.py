"""The tool beside gan_2014.py, as cleanrl_utils/ is beside CleanRL's scripts:
everything a run needs that is not the GAN itself. It never imports gan_2014:
the models are handed to the commands (commands.main).

    startup.py     the script's first lines: closed streams, a signal before main()
    process.py     errors, signals, TensorFlow's start-up notices, unread output; lazy imports
    files.py       whole writes (atomic), locks, file kinds, checked .npz reading
    pictures.py    the grids, mosaics, progress.gif
    history.py     history.csv and its plot losses.png, the collapse watch
    run_folder.py  RunFolder: a run's folders, its settings, its checkpoint's format
    data.py        MNIST from Keras or a local .npz, checked; the held-out digits
    evaluation.py  Parzen windows, nearest digits, the classifier figures
    generators.py  a trained generator from what --weights names
    options.py     the parser and the kinds of value the options take
    train.py       the training command: its options, new and resumed settings
    commands.py    sample, evaluate, toy, and main (the dispatch and its one-line errors)
"""
