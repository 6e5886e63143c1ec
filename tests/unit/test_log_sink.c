/* Log sinks: lines from several threads to one piped logger stay whole, whatever the pipe takes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log_sink.h"
#include "t.h"

#define LINE_LEN 20000 /* several times PIPE_BUF: a write of it may stop half-way */
#define LINES 200

typedef struct {
    lux_log_sink *sink;
    char mark;
} writer_arg;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void *writer(void *p) {
    writer_arg *a = p;
    char *line = malloc(LINE_LEN);
    if (!line)
        return NULL;
    memset(line, a->mark, LINE_LEN - 1);
    line[LINE_LEN - 1] = '\n';
    for (int i = 0; i < LINES; i++) {
        lux_log_sink_write(a->sink, line, LINE_LEN);
        lux_log_flush();
        sleep_ms(1);
    }
    for (int i = 0; i < 200; i++) { /* what the reader has not taken yet */
        lux_log_flush();
        sleep_ms(5);
    }
    free(line);
    return NULL; /* the thread's exit writes (or drops) whatever is left */
}

static off_t size_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The reader exits once the sink is closed; wait until its output stops growing. */
static void wait_for_output(const char *path) {
    off_t last = -2;
    for (int stable = 0, i = 0; stable < 10 && i < 400; i++) {
        off_t now = size_of(path);
        stable = now == last && now >= 0 ? stable + 1 : 0;
        last = now;
        sleep_ms(50);
    }
}

/* Every line is one writer's, whole: a mark repeated, then '\n'. */
static void check_lines(const char *path, int *whole) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        int ok = n == LINE_LEN && (line[0] == 'a' || line[0] == 'b');
        for (ssize_t i = 1; ok && i < n - 1; i++)
            ok = line[i] == line[0];
        CHECK(ok);
        *whole += ok;
    }
    free(line);
    fclose(f);
}

static void test_long_lines_from_two_threads_stay_whole(void) {
    char dir[] = "/tmp/lux-log-sink-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char out[64], target[160];
    snprintf(out, sizeof out, "%s/out", dir);
    /* A reader that starts late and reads slowly, so that the pipe fills and writes stop
     * part-way through lines. */
    snprintf(target, sizeof target, "|sleep 0.2; exec dd of=%s bs=4096 status=none", out);
    lux_log_sink *s = lux_log_sink_open(target, "test log");
    CHECK(s != NULL);
    if (!s)
        return;
    writer_arg a = {s, 'a'}, b = {s, 'b'};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, writer, &a);
    pthread_create(&tb, NULL, writer, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    lux_log_sink_release(s);
    wait_for_output(out);
    int whole = 0;
    check_lines(out, &whole);
    CHECK(whole > 0);
    unlink(out);
    rmdir(dir);
}

int main(void) {
    RUN(test_long_lines_from_two_threads_stay_whole);
    T_EXIT();
}
