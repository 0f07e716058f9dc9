// libusb-1.0, found through pkg-config (libusb-1.0 puts its include directory on the path).
#include <libusb.h>
