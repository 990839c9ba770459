/* SPDX-License-Identifier: MIT */
/* Fuzz target: the server's HTTP request handling. The server runs in-process (started once,
 * on a loopback port, with a small rule pack, the audit log, the verdict cache and CORS on);
 * each input is written as raw bytes to a fresh connection, so header parsing, routing, body
 * caps and JSON/document parsing all run. The response is read with a short deadline. A
 * crash, sanitizer report or a server that stops answering aborts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char PACK[] =
    "module: m\nname: M\nversion: '1'\n"
    "patterns:\n  subject: ['privacy notice', 'personal data']\n"
    "gates:\n"
    "  - id: g\n    title: G\n    severity: high\n    legal: L\n"
    "    relevant: subject\n"
    "    patterns:\n      bad: ['forbidden', 'never.{0,10}delete']\n"
    "    outcomes:\n      - when: bad & count(subject) >= 1\n        status: FAIL\n"
    "        message: bad\n        spans: [bad, subject]\n"
    "    examples:\n      pass: ['privacy notice']\n      fail: ['privacy notice forbidden']\n";

static srv *S;
static int verbose; /* LOKI_FUZZ_HTTP_VERBOSE=1: responses go to stderr (seed writing) */
static unsigned PORT;
static char tmp_dir[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stop(void)
{
    srv_stop(S);
    S = NULL;
    char p[300];
    const char *files[] = {"m.yaml", "audit.db", "audit.db-wal", "audit.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp_dir, files[i]);
        unlink(p);
    }
    rmdir(tmp_dir);
}

static void start(void)
{
    const char *base = getenv("LOKI_TEST_TMP");
    if (base && *base)
        mkdir(base, 0700);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/fuzz-http-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir))
        abort();
    char p[300];
    snprintf(p, sizeof p, "%s/m.yaml", tmp_dir);
    FILE *f = fopen(p, "wb");
    if (!f)
        abort();
    fputs(PACK, f);
    fclose(f);
    srv_config c;
    srv_config_default(&c);
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:0");
    snprintf(c.rules, sizeof c.rules, "%s", tmp_dir);
    snprintf(c.cache_dir, sizeof c.cache_dir, "off");
    snprintf(c.audit_db, sizeof c.audit_db, "%s/audit.db", tmp_dir);
    snprintf(c.access_log, sizeof c.access_log, "off");
    snprintf(c.cors_origins, sizeof c.cors_origins, "*");
    /* The interceptor's upstream is a closed port: proxied calls fail fast with a 502. */
    snprintf(c.anthropic_base_url, sizeof c.anthropic_base_url, "http://127.0.0.1:9");
    snprintf(c.openai_base_url, sizeof c.openai_base_url, "http://127.0.0.1:9");
    c.provider_max_attempts = 1;
    c.provider_connect_timeout = 1;
    c.provider_timeout = 2;
    c.threads = 1;
    c.batch_threads = 1;
    c.batch_max = 8;
    c.cache_bytes = 16 << 20;
    c.max_body_bytes = 1 << 20;
    c.conn_timeout = 2;
    c.request_timeout = 2;
    S = srv_start(&c, &PORT);
    if (!S)
        abort();
    verbose = getenv("LOKI_FUZZ_HTTP_VERBOSE") != NULL;
    atexit(stop);
}

/* Writes the input, half-closes and reads what comes back. MHD does not always notice a
 * half-close (the connection then stays open until the idle timeout), so the exchange also
 * ends once the server is idle and the socket quiet: 5 ms after the requests it started have
 * completed, or 20 ms when it started none (an incomplete request). Returns 0, or -1 on a
 * connect failure or when the deadline passed. */
static int exchange(const uint8_t *data, size_t size, double deadline_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)PORT);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    uint64_t seq0 = atomic_load(&S->req_seq);
    for (size_t off = 0; off < size;) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* answered and closed before reading everything: fine */
        off += (size_t)w;
    }
    /* A moment before the FIN lets MHD read the bytes and the end on separate wake-ups; read
     * together, it misses the end and waits for more. */
    struct timespec pause = {0, 500 * 1000};
    nanosleep(&pause, NULL);
    shutdown(fd, SHUT_WR);
    char buf[16384];
    int rc = -1;
    double t0 = now_s(), quiet_since = t0;
    while (now_s() < t0 + deadline_s) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5) > 0) {
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got <= 0) {
                rc = 0; /* the server closed */
                break;
            }
            if (verbose)
                fprintf(stderr, "%.*s", (int)got, buf);
            quiet_since = now_s();
            continue;
        }
        int started = atomic_load(&S->req_seq) != seq0;
        double quiet = now_s() - quiet_since;
        if (atomic_load(&S->inflight) == 0 && quiet > (started ? 0.005 : 0.02)) {
            rc = 0;
            break;
        }
    }
    close(fd);
    return rc;
}

static const uint8_t HEALTH[] = "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!S)
        start();
    if (exchange(data, size, 5) != 0 && exchange(HEALTH, sizeof HEALTH - 1, 10) != 0) {
        fprintf(stderr, "fuzz_http: the server stopped answering\n");
        abort();
    }
    /* Let the server finish with this input (on_completed) before the next one. */
    for (int i = 0; i < 5000 && atomic_load(&S->inflight) > 0; i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
