"""``python train.py [group=option ...] [key=value ...]``: the ``brainenc train`` command run from a
checkout (see :mod:`brainenc.training.__main__`)."""

from brainenc.training.__main__ import main

if __name__ == "__main__":
    main()
