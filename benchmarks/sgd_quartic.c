/* Reference C program for benchmarks/bench_simulate.py: the same recursion and the same
 * per-step work as memdyn's generated kernel, one thread.
 *
 *   x_{n+1} = x_n + eta (b(x_n) + sigma(x_n) xi),  b = x - x^3 (F = x^4/4 - x^2/2),
 *   sigma^2(x) = (1 + x^2) / 4,
 *
 * xi from the same counter-based SplitMix64 + Box-Muller generator (pairs cached), and per
 * step: divergence test, marginal histogram, basin label by table lookup (4096 cells),
 * occupation counts, batch counts, transition counting.
 * Usage: sgd_quartic CHAINS STEPS ETA SEED  -> prints "chain_steps_per_second checksum".
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline double uniform(uint64_t key, uint64_t n) {
    uint64_t z = mix64(key + (n + 1) * 0x9E3779B97F4A7C15ULL);
    return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s CHAINS STEPS ETA SEED\n", argv[0]); return 2; }
    long chains = atol(argv[1]), steps = atol(argv[2]);
    double eta = atof(argv[3]);
    uint64_t seed = (uint64_t)atoll(argv[4]);
    enum { NB = 100, NT = 4096, NBATCH = 32 };
    const double lo = -2.5, hi = 2.5, ctr = 0.0, rad = 5000.0;
    int32_t *table = malloc(sizeof(int32_t) * NT);
    for (int i = 0; i < NT; i++) table[i] = (lo + (i + 0.5) * (hi - lo) / NT) < 0 ? 0 : 1;
    long *hist = calloc((size_t)chains * NB, sizeof(long));
    long *occ = calloc((size_t)chains * 3, sizeof(long));
    long *batch = calloc((size_t)chains * NBATCH * 3, sizeof(long));
    long *trans = calloc((size_t)chains * 4, sizeof(long));
    double checksum = 0.0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long c = 0; c < chains; c++) {
        uint64_t key = mix64(mix64((uint64_t)c ^ seed) + 0x632BE59BD9B4E019ULL);
        double x = lo + (hi - lo) * uniform(key ^ 0xA5A5A5A5ULL, 0);
        long cp = -1; double nc = 0, ns = 0;
        int cur = -1; long bl = 1, bi = 0, bn = 1, r = 0;
        for (long k = 0; k < steps; k++) {
            double b = x - x * x * x;
            double sv = 0.25 * (1.0 + x * x);
            long pp = k >> 1;
            if (pp != cp) {
                cp = pp;
                double u1 = uniform(key, 2 * (uint64_t)pp), u2 = uniform(key, 2 * (uint64_t)pp + 1);
                double rr = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
                nc = rr * cos(a); ns = rr * sin(a);
            }
            double z = (k & 1) == 0 ? nc : ns;
            double sd = sv > 0 ? sqrt(sv) : 0.0;
            double y = x + eta * (b + sd * z);
            if (!(fabs(y - ctr) <= rad)) break;
            x = y;
            double u = (x - lo) * (NB / (hi - lo));
            if (u >= 0 && u < NB) hist[c * NB + (long)u] += 1;
            int lab = -1;
            double v = (x - lo) * (NT / (hi - lo));
            if (v >= 0 && v < NT) lab = table[(long)v];
            occ[c * 3 + lab + 1] += 1;
            batch[(c * NBATCH + bi) * 3 + lab + 1] += 1;
            r += 1;
            if (r == bn) {
                bi += 1; bn += bl;
                if (bi == NBATCH) {
                    for (int q = 0; q < NBATCH / 2; q++)
                        for (int h = 0; h < 3; h++)
                            batch[(c * NBATCH + q) * 3 + h] = batch[(c * NBATCH + 2 * q) * 3 + h] + batch[(c * NBATCH + 2 * q + 1) * 3 + h];
                    for (int q = NBATCH / 2; q < NBATCH; q++)
                        for (int h = 0; h < 3; h++) batch[(c * NBATCH + q) * 3 + h] = 0;
                    bl *= 2; bi = NBATCH / 2; bn = r + bl;
                }
            }
            if (lab >= 0 && lab != cur) {
                if (cur >= 0) trans[c * 4 + cur * 2 + lab] += 1;
                cur = lab;
            }
        }
        checksum += x;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    long tot = 0;
    for (long i = 0; i < chains * 3; i++) tot += occ[i];
    printf("%.6g %.6g %ld\n", (double)chains * steps / dt, checksum, tot);
    return 0;
}
