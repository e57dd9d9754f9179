import time

print("Sleeping for a while")
time.sleep(60)
print("Done sleeping")
