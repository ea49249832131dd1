// Replaced as soon as the supervisor has a real source file.
