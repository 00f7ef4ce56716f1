"""Train, evaluate, sample from and tune the zoo's LSTM language models.

    python train.py                      # default model on the generated offline corpus
    python train.py --help               # every option and subcommand
"""

from zoo.cli import main

if __name__ == "__main__":
    main()
