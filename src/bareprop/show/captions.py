"""What each figure of a report shows and how to read it, in words a reader understands."""

# What each figure shows and how to read it, by PNG file name: (title, one or two sentences).
CAPTIONS = {
    "curves": (
        "Loss and accuracy per epoch",
        "Left: the training loss (the mean over the epoch's batches) and the validation loss; "
        "right: the accuracy on each set. A validation curve that turns up while the training "
        "curve keeps falling is the sign of overfitting.",
    ),
    "confusion_matrix": (
        "Confusion matrix of the test set",
        "Row: the true digit; column: the digit the model predicted; each cell counts test "
        "images. The diagonal holds the correct answers; a large count off it, say in row 4, "
        "column 9, means that 4s were taken for 9s.",
    ),
    "samples": (
        "The first test images",
        "Each titled with its true label; 28x28 pixels after preprocessing, drawn dark on "
        "light (the model's input is 1 for ink and 0 for the background).",
    ),
    "misclassified": (
        "The test images the model got wrong most confidently",
        "Above each image: the true label, an arrow, the label the model predicted, and in "
        "brackets the probability the model gave that prediction. \u201c6\u21921 (1.00)\u201d "
        "is a 6 that the model called a 1, with probability 1.00 (rounded to two places).",
    ),
    "first_layer": (
        "What the first layer's units look for",
        "One 28x28 tile per unit: each pixel's colour is the weight from that input pixel to "
        "the unit, on one scale for all tiles (the colour bar): red positive, blue negative, "
        "white near 0. Ink on red pixels raises the unit's input, ink on blue lowers it.",
    ),
    "filters": (
        "The first convolution's filters",
        "One tile per filter: its kernel's weights (for one input channel), on one scale for "
        "all tiles (the colour bar): red positive, blue negative. A filter responds where the "
        "image looks like its red part and not its blue part: edges and strokes of a direction.",
    ),
    "feature_maps": (
        "What each convolution makes of one test digit",
        "The digit on the left, then one row per convolution layer: the map of each of its "
        "output channels after the layer (brighter: larger). Early maps keep the digit's shape; "
        "deeper ones are smaller and mark where a learnt feature occurs.",
    ),
    "per_class": (
        "Test error per digit",
        "The share of each digit's test images that the model misclassified, as bars from 0; "
        "the dashed line is the error over all test images. A tall bar is a hard digit.",
    ),
    "accuracy_by_config": (
        "Test accuracy of each configuration",
        "The dot is the mean over seeds and the whiskers one standard deviation either side "
        "(none for a single run); a black diamond is the figure the notebook reported. The "
        "axis starts near the lowest accuracy, not at 0.",
    ),
    "curves_overlay": (
        "Every run, epoch by epoch",
        "Training loss (left, log scale) and test accuracy (right) after each epoch, one "
        "colour per configuration, shared by its seeds; each dot is one epoch of one run.",
    ),
}
