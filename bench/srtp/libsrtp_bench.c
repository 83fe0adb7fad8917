/*
 * libsrtp2 side of scripts/bench-srtp.sh: protect and unprotect per packet
 * with the same suites, master key and salt (bytes 0, 1, 2, ...), packet
 * layout and counts as voip-media/benches/srtp.rs, printing the same line
 * format:
 *
 *   srtp libsrtp2 <suite> <payload bytes> <protect|unprotect> <ns per packet>
 *
 * SRTP_BENCH_SUITE and SRTP_BENCH_PAYLOAD select one case (for callgrind).
 *
 * Build: cc -O2 libsrtp_bench.c -lsrtp2 (Debian libsrtp2-dev).
 * Written for this repository as a bench-only harness.
 */
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PACKET 1600

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int rtp_packet(uint8_t *p, uint16_t seq, int payload) {
    uint32_t ts = (uint32_t)seq * 160, ssrc = 0x11223344;
    p[0] = 0x80; p[1] = 0x00;
    p[2] = seq >> 8; p[3] = seq & 0xff;
    p[4] = ts >> 24; p[5] = ts >> 16; p[6] = ts >> 8; p[7] = ts;
    p[8] = ssrc >> 24; p[9] = ssrc >> 16; p[10] = ssrc >> 8; p[11] = ssrc;
    for (int i = 0; i < payload; i++) p[12 + i] = (uint8_t)(i % 251);
    return 12 + payload;
}

static srtp_t session(int gcm, int inbound, uint8_t *key) {
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (gcm) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
        srtp_crypto_policy_set_rtp_default(&policy.rtp);
        srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
    }
    policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    policy.key = key;
    policy.window_size = 1024;
    policy.allow_repeat_tx = 0;
    srtp_t s;
    if (srtp_create(&s, &policy) != srtp_err_status_ok) {
        fprintf(stderr, "srtp_create failed\n");
        exit(1);
    }
    return s;
}

int main(void) {
    const char *env = getenv("SRTP_BENCH_PACKETS");
    int packets = env ? atoi(env) : 60000;
    if (packets <= 0 || packets > 65000) packets = 60000;
    if (srtp_init() != srtp_err_status_ok) {
        fprintf(stderr, "srtp_init failed\n");
        return 1;
    }
    struct { const char *name; int gcm; int key_salt; } suites[] = {
        {"AES_CM_128_HMAC_SHA1_80", 0, 30},
        {"AEAD_AES_128_GCM", 1, 28},
    };
    int payloads[] = {160, 1200};
    uint8_t *buf = malloc((size_t)packets * MAX_PACKET);
    int *len = malloc(sizeof(int) * (size_t)packets);
    const char *only_suite = getenv("SRTP_BENCH_SUITE");
    const char *only_payload = getenv("SRTP_BENCH_PAYLOAD");
    for (size_t s = 0; s < 2; s++) {
        if (only_suite && strcmp(only_suite, suites[s].name) != 0) continue;
        uint8_t key[64];
        for (int i = 0; i < suites[s].key_salt; i++) key[i] = (uint8_t)i;
        for (size_t k = 0; k < 2; k++) {
            if (only_payload && atoi(only_payload) != payloads[k]) continue;
            srtp_t tx = session(suites[s].gcm, 0, key);
            srtp_t rx = session(suites[s].gcm, 1, key);
            for (int i = 0; i < packets; i++)
                len[i] = rtp_packet(buf + (size_t)i * MAX_PACKET, (uint16_t)i, payloads[k]);
            double t0 = now_ns();
            for (int i = 0; i < packets; i++) {
                if (srtp_protect(tx, buf + (size_t)i * MAX_PACKET, &len[i]) != srtp_err_status_ok) {
                    fprintf(stderr, "protect failed\n");
                    return 1;
                }
            }
            double protect = (now_ns() - t0) / packets;
            t0 = now_ns();
            for (int i = 0; i < packets; i++) {
                if (srtp_unprotect(rx, buf + (size_t)i * MAX_PACKET, &len[i]) != srtp_err_status_ok) {
                    fprintf(stderr, "unprotect failed\n");
                    return 1;
                }
            }
            double unprotect = (now_ns() - t0) / packets;
            printf("srtp libsrtp2 %s %d protect %.0f\n", suites[s].name, payloads[k], protect);
            printf("srtp libsrtp2 %s %d unprotect %.0f\n", suites[s].name, payloads[k], unprotect);
            srtp_dealloc(tx);
            srtp_dealloc(rx);
        }
    }
    free(buf);
    free(len);
    return 0;
}
