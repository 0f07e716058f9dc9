// libzmq 4.3 stable API, found through pkg-config (libzmq).
#include <zmq.h>
