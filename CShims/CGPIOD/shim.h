// libgpiod, found through pkg-config (libgpiod). We target the v1 API (1.6, as Debian 12 ships).
#include <gpiod.h>

// v1 defines the bulk-request limit; v2 (2.x) replaced bulk objects with line requests and dropped it.
#ifndef GPIOD_LINE_BULK_MAX_LINES
#error "CGPIOD needs the libgpiod v1 API (1.6, Debian 12's libgpiod-dev); this is libgpiod v2, whose API is incompatible."
#endif
