print("skein-journal")
