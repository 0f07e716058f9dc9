// The physical limit of the SCPI-over-TCP path: a minimal C server on 127.0.0.1 that answers every
// line it receives ("...\n") with one reply line of a fixed length, as an instrument would.
// Usage: line_echo_server <reply-bytes-including-terminator>
// Prints "PORT <n>" on stdout once listening; serves one connection at a time until killed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int reply_len = argc > 1 ? atoi(argv[1]) : 14;
    if (reply_len < 2 || reply_len > 4096) { fprintf(stderr, "reply length must be 2..4096\n"); return 2; }
    char reply[4096];
    memset(reply, '7', (size_t)reply_len);
    reply[reply_len - 2] = '\r';
    reply[reply_len - 1] = '\n';

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 4) != 0) { perror("bind/listen"); return 1; }
    socklen_t len = sizeof addr;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    for (;;) {
        int conn = accept(listener, NULL, NULL);
        if (conn < 0) continue;
        setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char buf[65536];
        for (;;) {
            ssize_t n = read(conn, buf, sizeof buf);
            if (n <= 0) break;
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n' && write(conn, reply, (size_t)reply_len) != reply_len) { n = -1; break; }
            }
            if (n < 0) break;
        }
        close(conn);
    }
}
