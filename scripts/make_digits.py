"""Convert scikit-learn's 8x8 handwritten digits (1,797 images) into digits.npz, once.

Run by hand with scikit-learn installed (`pip install scikit-learn`); the result is committed
under solutions/hw1_layers/ and assignments/hw1_layers/, so nothing downloads or needs
scikit-learn at run time. The data are the UCI "Optical Recognition of Handwritten Digits"
test set as scikit-learn ships it: pixel counts 0..16, labels 0..9.

    images: (1797, 64) uint8    labels: (1797,) uint8
"""

import sys

import numpy as np
from sklearn.datasets import load_digits

digits = load_digits()
images = digits.data.astype(np.uint8)
labels = digits.target.astype(np.uint8)
assert images.shape == (1797, 64) and images.max() == 16 and set(labels) == set(range(10))
np.savez_compressed(sys.argv[1] if len(sys.argv) > 1 else "digits.npz", images=images, labels=labels)
