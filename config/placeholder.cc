// Replaced as soon as the layer has a real source file.
