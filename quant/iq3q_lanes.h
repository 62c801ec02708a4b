/*
 * iq3q_lanes.h - private to quant/: the IQ3_XXS / IQ3_S quantizers with W float lanes, a
 * template shared by avx2_iq3q.c (W = 8), avx512_iq3q.c (W = 16) and neon_iq3q.c (W = 4). The
 * including file defines the vector types and ops below, then includes this once. Where
 * TC_GRID_AVX2 is set (both x86 files) the 8-element sub-block preparation and parity search, the
 * smallest xval and the requantization's codes of 8 groups at once are grid_avx2.h's 8-lane AVX2
 * functions (AVX-512 uses them at 8 lanes too), elsewhere the same operations in the W-lane ops
 * (the parity element by the reference's loop); the W = 16 pair searches and IQ3_S's packed
 * trials are AVX-512's alone, in its intrinsics under W == 16. The 8-entry level tables are VT (a
 * VF for W >= 8; with W = 4 the includer's two-vector type), and the searches read 8 / W, 16 / W,
 * 32 / W vectors by class. Bit-identical to ref_iq3_quant.c (read its header first: the algorithm
 * and ggml's traps are described there). quant/ builds with -ffp-contract=off and nothing here is
 * fused or reassociated: every float a lane computes is one the reference computes, by the same
 * operations on the same operands in the same order.
 *
 * Blocks with Inf or NaN (in x or in the importance weights) go to the reference. With finite
 * input every NaN that can still arise (0 * Inf, Inf - Inf, the square root of a negative
 * weight) is the one default NaN, so which operand an operation propagates cannot matter; the
 * selects below keep the reference's comparisons exactly (strict ones strict, NaN false).
 *
 * What runs in lanes, and why each float is the reference's:
 * - Weights, their square roots, magnitudes and signs run 8 elements at a time, the same
 *   operation per element as the reference. IQ3_XXS's parity element is the first smallest
 *   (w*x)*x of its 8: without NaN that is the first lane equal to the smallest (+0 and -0 are
 *   equal in both); with a NaN among them the reference's own loop decides. The sub-block's
 *   largest magnitude is a max over lanes: the values are never NaN here, so only the sign of a
 *   zero maximum could differ, and a zero maximum skips the sub-block either way.
 * - The trial scales of a sub-block run in lanes (lane t = trial t): id = (15 + is*0.2f) / max
 *   and 1/id are the reference's operations; rounding an element to a level is its
 *   0.5f * (id*x - 1), nearest_int's 1.5*2^23 trick (the mask form, whatever f is) and the
 *   clamp, per lane; the 4 levels of a group make its code in the lane, one nibble per level
 *   (iq3q.h); with 8 lanes the clamp is saturating packs and a byte minimum (the same levels),
 *   the nibbles two multiply-adds. Padding lanes repeat the last trial and are never read.
 * - Which trials' groups are off the grid comes from gathers of the map; those groups are
 *   compacted into work lists by the length of their neighbour list (no data-dependent
 *   branch per search; with 8 lanes lists of more than 32 share the list of 17..32 and take a
 *   rarely taken branch).
 * - The neighbour search of an off-grid group runs W candidates at once (lane = candidate,
 *   from the code lists of iq3q.h): the 8 possible terms w*(scale*q - x)^2 of each of the 4
 *   elements are the reference's ((w*diff)*diff) in the 8 lanes of a table (repeated in both
 *   halves for W = 16), each lane picks its own by its code (a permute) and adds them in
 *   element order. The reference starts the sum from 0; 0 + t differs from t only when t is -0,
 *   and then only in the sign of a zero result, which no comparison sees (-0 == +0), so the
 *   lanes start from the first term. The reference keeps the first strictly smaller distance
 *   below FLT_MAX: a lane's distance becomes FLT_MAX when it is not below FLT_MAX (NaN
 *   included: min(d, FLT_MAX) returns FLT_MAX then), each lane keeps its first strictly smaller
 *   one, and the lanes are merged by (distance, list position): the smallest distance, the
 *   first position holding it. No distance below FLT_MAX: grid point 0, as the reference. With
 *   8 lanes the clamp is left out for a sub-block where no distance can be NaN (every weight's
 *   square root finite, max <= 1e37, xval >= -1e37: see SEARCHES8 in sub_search); the answer
 *   is the same (stress-tested: 27k rows of values up to ~1e13, partly infinite distances,
 *   ties, zeros, weights 0..1e20, against ggml; IQ3_XXS +2.6 %, IQ3_S +1 %). With
 *   16 lanes, two searches of lists of at most 8 run in the two halves (nb_search_pair): each
 *   half has its own terms and its own minimum, the same operations per lane. With 8 lanes,
 *   IQ3_XXS's lists of at most 4 (NB_CLASS4) run two searches in the two 128-bit halves
 *   (nb_search_pair4) without term tables: each lane computes its own candidate's 4 terms by the
 *   same operations on the same operands.
 * - The trials' fits sum (w*x)*q and (w*q)*q over the 32 elements in the reference's order,
 *   from 0, in the trial lanes. A term depends on the element and the level only: the 8
 *   possible terms of an element are computed once (the same products) in the 8 lanes of a
 *   table and each lane picks its own by the level in its code (a permute). The choice of the
 *   best trial is the reference's loop in trial order; the candidate scale sumqx/sumq2 and
 *   best = scale*sumqx of every trial are computed by the same operations beforehand, the
 *   update is a select. With 8 lanes the loop goes from winner to winner instead: the next
 *   winner is the first later trial whose comparison with the current best holds (the
 *   reference's comparison on the same floats, for all trials at once by masks).
 * - The requantization at the fitted scale rounds the 8 groups at once (lane = element, then
 *   the nibbles of a group added: they do not overlap, so the sum is an OR), searches the
 *   off-grid ones as above, and refits through the same tables (every lane the same code).
 *   The sign flip, the grid indices and the block scales are the reference's scalar steps.
 *
 * Measured slower and dropped (Zen 4, AVX2 unless said; instruction counts do not predict the
 * time here): one search per lane, 8 candidate steps (11 % fewer instructions, 12 multiplies a
 * search instead of 9: about 15 % slower; commit 0abcf3e has it); the same with 16 lanes or 8
 * in the AVX-512 kernel instead of nb_search_pair; each search's distances to a buffer, merged 8
 * searches at a time by a transpose and a tournament; integer min/compare on the distances'
 * bits for the merge; a byte-per-level list copy (permute indices as plain loads); list offsets
 * and scales precomputed 8 at a time; x and weights kept per group across its searches;
 * classes split at 4/8/16; nb_search_pair4 for IQ3_S too (its lists of at most 4 are a quarter
 * of class 0, not half: the fifth work list costs more than the pairs save, 3-6 % slower). Taking
 * the first candidate instead of merging (wrong output) gains about 10 % on IQ3_XXS, skipping the
 * class-0 searches about 45 %.
 *
 * AVX2 on Zen 5 (family 26), measured by running one phase twice (IQ3_XXS; IQ3_S alike): each
 * of the four search loops (pairs of <= 4, class 0, 1, 2+3) costs about 12 % of the time,
 * building the work lists 14 % (the gathers a quarter of that), the trials' fits 8 %, the trial
 * codes 6-7 %, the choice 5 %; the searches run at about twice the instructions per cycle of
 * the rest. Measured neutral (within 1 %) and not kept: lane_code3 by a byte multiply-add; the
 * map lookups by scalar loads instead of the gather; the on-grid bits read from the map
 * entries instead of kept, with the class masks from the entries' bits by sign masks;
 * nb_search_any inlined; the class-2 searches first; work items as bytes in the two-pass
 * lists (1 %); two-vector (class 1) searches merged by masks as the four-vector
 * ones (then; kept since, below). Measured slower: work items as bytes pushed by scalar 8-byte
 * stores of tc_left_pack (2-3 %); classes 0 and 1 paired with one reduction for both
 * (nb_search_pair8, 2-5 %); the fits of all trial vectors interleaved (1-2 %); the groups' x and
 * weights as whole vectors in memory operands instead of broadcasts (IQ3_S 5 %); IQ3_S's classes 0
 * and 1 in one list searched as class 1 (4 %).
 *
 * Profile of that state (perf, AVX2 IQ3_XXS, 1024 rows; shares of the whole run, sub_search 88 %):
 * the pair4 loop 12.5 %, class 0 14 %, class 1 13 %, classes 2+3 12.5 %, the two-pass work lists
 * 12 % (gathers and class bytes 8 %, compress-stores 4 %), trial codes 5.5 %, fits 6 %, choice
 * 3 %. A class-0 search is 64 instructions (the pair4 loop 97 for two, class 1 85, classes 2+3
 * 118) at about 11 cycles, near the dispatch width: instruction count, not latency, is the cost.
 * Per sub-block (gaussian): IQ3_XXS 202 searches (72 of lists <= 4, 64 class 0, 42 class 1, 25
 * longer) but only 32 runs of one off-grid code over consecutive trials (about 6 trials a run);
 * IQ3_S 108 searches, 20 runs. Measured neutral and dropped (4 alternating pairs each, 64 rows):
 * the work items carrying their list offset (32 * k + t | offset << 8, no map entry read per
 * search: Ir -1.2 %, 9.0x both); classes 0 and 1 of trials 2u, 2u + 1 with one code searched
 * together (nb_search_same2: shared codes, shifts, x and weights, one reduction for both minima;
 * two more work lists): Ir -0.6 %, mispredicts +24 %, IQ3_XXS 8.9x -> 8.7x, IQ3_S 8.6x -> 8.6x.
 * Measured much slower and dropped: a run of R >= 3 (then R >= 6) trials with one code searched
 * at its two ends only, the trials between taken from the two ends' winners ca, cb where that is
 * provably the reference's answer (exact, by an error bound instead of the same operations: with
 * F_c(s) = sum wa (s q - x)^2 in real arithmetic, the float distance is within E(s) = 9u sum wa
 * (15 s + |x|)^2 of it (u = 2^-24, every term >= 0); F_c - F_c' = s (s A - 2 B), s times a linear
 * function, so a margin above 2 E(s_hi) / rho at both ends, rho = s_lo / s_hi, holds at every
 * trial between; each other candidate checked against ca and against cb; between, the nearer of
 * ca and cb by the reference's operations, lane = trial; otherwise the trials one by one). On
 * gaussian data runs of 3 or more cover 191 of IQ3_XXS's 202 searches a sub-block, 87 % of them
 * pass the check, and 114 searches go (IQ3_S: 57 of 108); with runs of 6 or more, 97 (82 % pass).
 * But the instructions fell only 2 % (runs of 3) and 5 % (of 6; cachegrind, 16 rows), the
 * mispredicts rose 19k -> 59k / 41k, and a run is one long dependent chain (two searches, the
 * check, the between) that does not overlap the next: IQ3_XXS 8.9x -> 7.0-7.5x, IQ3_S 8.6x ->
 * 6.7-7.4x (alternating pairs).
 * In two phases (the ends of every run, then the trials between of every run; runs of 6 or
 * more, 81 % passing, the others one by one): IQ3_XXS 7.8x. The searches it replaces cost ~11
 * cycles each because many short independent chains overlap; a run's ends and check are ~270
 * instructions (the between ~100), and finding the runs with three more work lists costs ~9 %
 * of the time, so a run must save ~7 searches to break even. Per-group sums for E (one
 * quadratic in s a run end) and the failing runs' trials appended to the class lists would trim
 * it, not enough to pay on this machine. Checked offline and not worth building: pruning list
 * candidates that an earlier one beats element by element everywhere in the rounding cell
 * (exact, float rounding being monotone) removes 1 % of the candidates; skipping the searches
 * of trials whose fit cannot win (each off-grid group's largest sum (w*x)*q and smallest
 * (w*q)*q over its list) skips none, the bound being above the best fit in every trial.
 * Remeasured this round, still neutral: the groups' x and weights broadcast once a sub-block and
 * read as memory operands by the class 0..2 searches (3 pairs: IQ3_XXS 8.8x both, IQ3_S 8.5x ->
 * 8.4x); quant/avx2_iq3q.c at -O3 (#pragma GCC optimize; 3 pairs, 8.9x both, 8.8x both).
 * Measured slower and dropped (commit 0e9d126 has it): each run searched once with lane = trial
 * (up to 8 of its trials; runs longer than 8 restarted every 8 trials, the starts found by
 * comparing the map entries of consecutive trials in lanes and shifts of 32-bit masks), only the
 * (element, level) pairs its list uses given terms (per-list descriptors built with the lists;
 * one flat loop over the pairs of 64 runs: the row sc[t] * q at the run's first trial, minus the
 * broadcast x, times the broadcast weight, times the difference, stored), each candidate's
 * distance 4 term loads (offsets from one 64-bit word) and 3 adds, each lane's first strictly
 * smaller one by min + compare + blend of a position counter, the codes by a permute (a gather
 * beyond 8 candidates), the lanes of the run's entry written by a masked store; the lists by
 * padded length 4, 8, 16, 32 so every chain has a fixed count. Exact (the same floats), but
 * IQ3_XXS 8.6-9.1x -> 7.7x, IQ3_S 8.6-8.8x -> 6.9-7.0x (4 alternating pairs). Offline count
 * (gaussian, 20000 sub-blocks): IQ3_XXS 202 searches, 31.5 runs, 41.8 pieces of at most 8
 * trials (4.8 trials each; runs of 1 and 2 trials: 4.0 and 3.6 a sub-block), 11.0 used pairs
 * a list of 7.4 candidates (3 or fewer levels an element in 58 % of the runs, 4 or fewer 87 %);
 * IQ3_S 108 searches, 19.4 runs, 23.8 pieces (4.5 trials), 11.3 pairs, 10.7 candidates. Knocked
 * out one phase at a time (IQ3_XXS, ratio): no searches at all 20.4x, + the sq rows and the
 * descriptors 15x, + the terms and the classing 10.5x, + the candidates 7.3-7.7x (IQ3_S 18.2x,
 * 14.9x, 11.2x, 7.0x): the terms alone cost about what the searches they replace cost. It is
 * load-bound: a pair is ~7 instructions with 3 vector loads and a store, a candidate ~17 with 5
 * loads (~4 cycles); a piece costs ~6.5 of today's searches, so only pieces of 7 or 8 trials
 * (~11 a sub-block) would gain, at most ~5 % with both paths' work lists: not tried.
 * Measured slower and dropped (AVX2; not kept in the tree): two elements' levels in one 8-lane
 * term table. Each list got a base level b_e per element (its smallest, at most 4), relative
 * codes (nibble e = l_e - b_e + 4 (e & 1): elements 0, 1 read lanes 0..3, 4..7 of one table, 2, 3
 * of another) and a q row (2l + 1 of b0..b0 + 3 and b1..b1 + 3, one of 25); the x and weight
 * pairs (x0 x0 x0 x0 x1 x1 x1 x1) built once a sub-block; the answer rel + delta (one integer a
 * list: the nibbles add without carries), so the absolute codes are not read. Exact (the same
 * (w*diff)*diff of the same operands in the same order; tests passed, identical in every
 * bench). Lists whose levels span more than 4 in some element, or of more than 32, kept the old
 * search. Per sub-block (gaussian, 16 rows) IQ3_XXS searched 51.6 narrow class 0, 30.5 class 1,
 * 21.7 class 2, 25.7 wide, 73.2 pairs of <= 4; IQ3_S 40.0, 47.0, 16.8 and 4.5 wide. A class-0
 * search went from 64 to ~55 instructions, sub_search's instructions fell 0.5 % (cachegrind, 8
 * rows), and every variant ran slower (alternating pairs, 64 rows): wide lists in a fifth work
 * list, relative data after the absolute codes, IQ3_XXS 8.9x -> 8.4x (4 pairs), IQ3_S 8.65x ->
 * 8.35x (4 pairs); relative data before the count 8.8x -> 8.3x; the q row index in bits of the
 * map entry (no list load before the table) 8.75x -> 8.1x, IQ3_S 8.55x -> 8.0x; wide lists in
 * their class's work list behind a branch (no fifth list) IQ3_XXS 8.8x -> 8.2x, IQ3_S 8.6x ->
 * 8.25x. The class-0 loop run twice (IQ3_S, 3 rounds, CPU-time MB/s of the whole run with the
 * loop once and twice) costs 1.08 ms/MB old, 1.06 new, 0.96 with the q row a constant (wrong
 * output): fewer instructions did not make the search faster, and the new table waits for the
 * list (map entry, q row load, four float operations) where the old ones need only the group
 * and the scale. Computing every search's tables first (a loop storing them, then the searches
 * reading them; all at once or 16 at a time) to take that chain off was slower still: IQ3_S 152
 * -> 135 MB/s. Also slower: prefetching the list of the search 4 or 8 ahead in the class 0 and 1
 * loops (IQ3_S 151 -> 146 MB/s, 3 rounds). Neutral: scale*q of every trial computed once a
 * sub-block instead of in each search (IQ3_XXS 104.9 -> 104.5 MB/s, 4 pairs); the unclamped
 * minimum (below) in the AVX-512 kernel's searches too (8 alternating pairs: IQ3_XXS 10.50x ->
 * 10.61x, IQ3_S 10.30x -> 10.33x, within the noise).
 * Measured after the unclamped searches (AVX2, alternating pairs, 64 rows; all exact, tests
 * passed, identical in every run) and dropped: (1) classes 0 and 1 choosing the first position
 * without broadcasting the minimum: each 128-bit half's own minimum by in-lane shuffles, a lane
 * set where it equals its half's minimum and that minimum is <= the other half's (a
 * vperm2f128 and compare off the min chain) and < FLT_MAX; no final vperm2f128 + min, but two
 * more vector ops: 5 pairs, IQ3_XXS 9.07x -> 9.02x, IQ3_S 8.86x -> 8.68x (medians; slower in
 * every pair). (2) A "finite" mode: where every distance is provably below FLT_MAX (amax =
 * max(max, -xmin) <= 1e18 and every w <= 1e37 / amax^2: |diff| < 2.26 amax, so a term is <
 * 5.2e37 and w*diff finite, the sum of 4 < 2.1e38), no check of the minimum against FLT_MAX
 * (one vcomiss and a branch a search, the compare and AND of a pair4): 11 pairs, IQ3_XXS
 * 9.17x -> 9.28x (+0.5..1.7 % in 10 pairs, -0.5 % in one), but IQ3_S 8.79x -> 8.72x (slower
 * in 10 of 11; 4 more pairs of IQ3_S alone: 8.73x -> 8.62x); only for IQ3_XXS (IQ3_S keeping the
 * NaN-free mode): 5 pairs, IQ3_XXS 9.09x -> 9.13x, IQ3_S 8.70x -> 8.64x: within the noise,
 * not a clear gain. (3) Two class-0 searches with one reduction (nb_search_two8: P = (A lo, B
 * lo), Q = (A hi, B hi), min(P, Q) and two in-lane steps give both minima, two compares and
 * two movemasks both positions: 11 vector ops for two searches instead of 16), on top of (2):
 * 5 pairs, IQ3_XXS 9.26x both, IQ3_S 8.71x -> 8.68x. So neither the minimum's chain nor its
 * vector ops bound the class-0 search on this machine. Kept: with 8 lanes the two-vector
 * (class 1) searches merge by a min and two equality masks as the four-vector ones (no compare
 * and blend chain; exact as there: every distance clamped or none NaN, min exact, the set bits
 * the positions holding the smallest): 10 pairs, IQ3_S 8.72x -> 8.89x (+1.0..2.9 % in every
 * pair; 6 more pairs 8.83x -> 8.94x, faster in 5), IQ3_XXS 9.09x -> 9.13x (-0.8..+1.9 %; 6
 * more pairs 9.18x -> 9.21x), measured neutral before the searches were unclamped. The same
 * for 16 lanes (the AVX-512 kernel's 32-candidate class-2 searches) was not kept: 15 pairs,
 * IQ3_S 10.50x -> 10.57x (faster in 11), IQ3_XXS faster in 5 of 15 (medians 10.51x -> 10.55x
 * in 11 pairs, 10.60x -> 10.49x in the last 4); an A/A run of one binary moved up to 0.8 %.
 *
 * Measured slower and dropped (AVX2; commit 8461942 has it): runs proved from one search. A run
 * is a group's consecutive trials with one off-grid map entry (one list). In real arithmetic
 * (d_c' - d_c)(s) / s = s dA - 2 dB is linear in s (dA = sum wa (q_c'^2 - q_c^2)), and each float
 * distance is within E(s) = 10u sum wa (15 s + |x|)^2 of the real one (u = 2^-24), so one search
 * at scale s_h, with float gaps g_c' to its winner c, proves c the reference's answer at another
 * trial s' of the run when g_c' - 5.2 E(s_h) > s_h |s_h - s'| max(+-dA, 0) for every other code
 * (the sign by the side; trial scales within 1.6 of each other; computed conservatively, every
 * float kept normal). Offline (gaussian, 5000 sub-blocks; every proved trial checked against its
 * own search, none wrong): searching each run's first unproved trial, IQ3_XXS 203 -> 50 searches
 * a sub-block, IQ3_S 108 -> 31; one search at each run's middle proving up to 7 before and 8
 * after, the rest searched plainly: 68 and 37 (the list's smallest A for the winner's: 105; one
 * radius for both sides: 102). Built exact (quant_iq, simd, 128000 rows of 8 distributions with
 * ties, zeros, heavy tails and importance weights identical to the reference) and slower in
 * every form (alternating pairs, 64 rows): a work-list queue re-searching from the first
 * unproved trial IQ3_XXS 9.1x -> 8.2x, IQ3_S 8.9x -> 7.0x; middle searches then plain lists 8.3x,
 * 7.8x; rcpps instead of the divisions, and the searches and the proofs in two passes, no
 * better. Knocked out: the middle searches and proofs alone (no plain searches, wrong output)
 * take as long as today's whole search (9.2-9.5x), so a run costs ~73 cycles, about six plain
 * searches (its long chain: search, minimum, winner, radii, proof masks, list pushes); the same
 * 203 searches through the runs' lists 7.4x (their bookkeeping); the set-up alone (the groups'
 * weight sums, padding, head lists) 3-5 %; reading each trial's previous map entry by unaligned
 * loads over the gathers' stores (failed store-forwarding) 8 % on IQ3_S (a lane permute of the
 * gathered vector instead). IQ3_S cannot reach 10x this way on this machine even with free
 * lists: its 19.5 runs at six searches each exceed the 71 searches they save.
 *
 * The requantization at the fitted scale, knocked out (AVX2, 3 alternating pairs): the whole
 * phase 6 % (IQ3_XXS) and 8 % (IQ3_S) of the time, its ~5 searches alone 4-5 % (a loop over the
 * off-grid groups with a class branch, at the end of the sub-block's chain). Tried and dropped:
 * all 8 groups searched with two vectors and no branch (an on-grid group searching list 0, its
 * answer dropped): IQ3_XXS 9.1x -> 8.9x, IQ3_S 8.8x -> 8.6x; the refit skipped when the codes are
 * the winning trial's again (exact: the same sums, the same scale): neutral.
 *
 * Required from the includer:
 *   W, VF, VI, VM, F_SET1 F_ZERO F_ADD F_SUB F_MUL F_DIV F_LOADU F_STOREU, F_BCAST(const float *)
 *   F_MIN(a, b) = a < b ? a : b (b when either is NaN), I_TO_F (int32 to float), F_FIRST (lane 0)
 *   M_CMP(a, b, pred), F_BLEND(a, b, m), I_BLEND(a, b, m) = m ? b : a, M_BITS(m): lane j at bit j
 *   I_SET1 I_ZERO I_ADD I_SUB I_MIN I_MAX I_AND I_OR I_SRLI(v, n) I_SLLI(v, n) F_BITS (reinterpret)
 *   I_LOADU I_STOREU, I_LOAD_U16(const uint16_t *): W uint16 zero-extended
 *   F_PERM(t, i): lane l = t[i[l] mod W] (tables repeat every 8 lanes, index bit 3 is clear)
 *   F_HMIN(v): the smallest lane in every lane (v without NaN), I_HMIN(v): the smallest int32
 *   M_ICMPGT, M_ICMPEQ (int32 compares to a mask), I_GATHER(const int32_t *base, VI idx)
 *   I_COMPRESS_STORE(int32_t *p, VI v, unsigned bits): the lanes of the set bits, in order, at p
 *   (may write W values)   TC_ISA_ATTR: empty or a target attribute
 * and, without TC_GRID_AVX2: F_SQRT F_NEG (sign flipped); W < 8: VT and its T_LOADU T_SET1 T_BCAST
 *   T_SUB T_MUL, T_PERM(t, i) (lane l = t[i[l] & 7])
 */

#include "blocks.h"
#if TC_GRID_AVX2
#include "grid_avx2.h"
#endif
#include "iq3q.h"
#include "tc_dtype.h"

#include <float.h>
#include <math.h>
#include <string.h>

enum { NT_MAX = 31, NV_MAX = (NT_MAX + W - 1) / W }; /* trials: 31 IQ3_XXS, 19 IQ3_S */
_Static_assert((NV_MAX * W) == 32, "a group's trials at 32 * k + t");

#define IQ3_MAXQ    8     /* kMaxQ: levels 0..7, q = 1, 3, ..., 15 */
#define IQ3_XXS_EPS 1e-8f /* GROUP_MAX_EPS_IQ3_XXS */

/* q = 2l + 1 for level l in lane l mod 8 */
static const float qlev[16] = {1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15};
static const int32_t lane_index[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* ggml's MAX: which operand a NaN comparison picks matters. */
static inline float maxf_ggml(float a, float b)
{
    return a > b ? a : b;
}

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* A table of 8 values, one per level (lane l mod 8), and its ops: a VF when W >= 8 (the
 * includer may define its own, T_PERM(t, i) = t[i[l] & 7] in lane l, for fewer lanes). */
#ifndef T_PERM
#define VT      VF
#define T_LOADU F_LOADU
#define T_SET1  F_SET1
#define T_BCAST F_BCAST
#define T_SUB   F_SUB
#define T_MUL   F_MUL
#define T_PERM  F_PERM
#endif

/* The code4s of the group of 4 values xv at the lanes' inverse scales id (level_of per
 * element). `small`: every |id*x| is far below 2^22, so nearest_int's 1.5*2^23 trick and a
 * conversion in the current rounding mode give the same integer (both round f once, in that
 * mode); otherwise the trick's mask form, which the clamp may turn into any level. */
TC_ISA_ATTR static ALWAYS_INLINE VI group_codes_x(VF id, const VF *x, int small)
{
    const VF one = F_SET1(1.0f), half = F_SET1(0.5f), magic = F_SET1(12582912.f);
#if W == 8 && TC_GRID_AVX2
    VI l[4];
    for (int j = 0; j < 4; j++) {
        const VF f = F_MUL(half, F_SUB(F_MUL(id, x[j]), one));
        l[j] = small
                   ? F_TO_I(f)
                   : I_SUB(I_AND(F_BITS(F_ADD(f, magic)), I_SET1(0x007fffff)), I_SET1(0x00400000));
    }
    /* The clamp to 0..7 by saturating packs (int32 to int16 keeps the sign, int16 to uint8 takes
     * negatives to 0) and a byte minimum: per 128-bit half, byte 4 j + t holds level j of lane t;
     * a byte shuffle gathers each lane's 4 levels, two multiply-adds make l0 + 16 l1 + 256 l2 +
     * 4096 l3 (the nibbles). */
    const __m256i b = _mm256_min_epu8(
        _mm256_packus_epi16(_mm256_packs_epi32(l[0], l[1]), _mm256_packs_epi32(l[2], l[3])),
        _mm256_set1_epi8(IQ3_MAXQ - 1));
    const __m256i g = _mm256_shuffle_epi8(b, _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10,
                                                              14, 3, 7, 11, 15, 0, 4, 8, 12, 1, 5,
                                                              9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(g, _mm256_set1_epi16(0x1001)),
                             _mm256_set1_epi32(0x01000001));
#else
    VI code = I_ZERO;
    for (int j = 0; j < 4; j++) {
        const VF f = F_MUL(half, F_SUB(F_MUL(id, x[j]), one));
        VI l = small
                   ? F_TO_I(f)
                   : I_SUB(I_AND(F_BITS(F_ADD(f, magic)), I_SET1(0x007fffff)), I_SET1(0x00400000));
        l = I_MAX(I_ZERO, I_MIN(I_SET1(IQ3_MAXQ - 1), l));
        code = I_OR(code, I_SLLI(l, 4 * j));
    }
    return code;
#endif
}

TC_ISA_ATTR static ALWAYS_INLINE VI group_codes(VF id, const float *xv, int small)
{
    const VF x[4] = {F_BCAST(xv), F_BCAST(xv + 1), F_BCAST(xv + 2), F_BCAST(xv + 3)};
    return group_codes_x(id, x, small);
}

/* code4 to code3 (the map index) in lanes */
TC_ISA_ATTR static inline VI lane_code3(VI c)
{
    const VI a = I_OR(I_AND(c, I_SET1(0x007)), I_AND(I_SRLI(c, 1), I_SET1(0x038)));
    const VI b = I_OR(I_AND(I_SRLI(c, 2), I_SET1(0x1c0)), I_AND(I_SRLI(c, 3), I_SET1(0xe00)));
    return I_OR(a, b);
}

/* The list of an off-grid map entry m (iq3q.h) and its class: 0 at most 8 candidates, 1 at
 * most 16, 2 at most 32, 3 more; NB_CLASS4 adds 4 for at most 4 (the AVX2 kernel's pairs). */
#define NB_LIST(T, m) ((T)->list + ((uint32_t) ~(m) >> 3))
#define NB_CLASS(m)   ((uint32_t) ~(m)&3)
#define NB_CLASS4(m)  ((uint32_t) ~(m)&7)

/* The 8 possible terms w*(scale*q - x)^2 of each element of the group xv (wv the square roots
 * of the weights) at the levels of the lanes (lane l mod 8), as the reference: (w*diff)*diff. */
#define NB_TERMS(sq, xv, wv)                                                                       \
    VT e0, e1, e2, e3;                                                                             \
    do {                                                                                           \
        const VT d0_ = T_SUB(sq, T_BCAST((xv) + 0)), d1_ = T_SUB(sq, T_BCAST((xv) + 1));           \
        const VT d2_ = T_SUB(sq, T_BCAST((xv) + 2)), d3_ = T_SUB(sq, T_BCAST((xv) + 3));           \
        e0 = T_MUL(T_MUL(T_BCAST((wv) + 0), d0_), d0_);                                            \
        e1 = T_MUL(T_MUL(T_BCAST((wv) + 1), d1_), d1_);                                            \
        e2 = T_MUL(T_MUL(T_BCAST((wv) + 2), d2_), d2_);                                            \
        e3 = T_MUL(T_MUL(T_BCAST((wv) + 3), d3_), d3_);                                            \
    } while (0)

/* The distances of the lanes' candidates (code4s in C), terms added in element order. */
#define NB_DIST(C)                                                                                 \
    F_ADD(F_ADD(F_ADD(T_PERM(e0, C), T_PERM(e1, I_SRLI(C, 4))), T_PERM(e2, I_SRLI(C, 8))),         \
          T_PERM(e3, I_SRLI(C, 12)))

/*
 * iq3_best_neighbour: of the list at lst (count, then padded code4s), the code4 of the point
 * nearest to the group xv at `scale` by sum of w*(scale*q - x)^2 (wv = the square roots of the
 * weights), the first of equal distances; T->code0 when no distance is below FLT_MAX. nvec: the
 * number of vectors of candidates when the padded list is known to hold that many, 0 for any.
 */
TC_ISA_ATTR static ALWAYS_INLINE int nb_search_k(const tc_iq3_lists *T, const uint16_t *lst,
                                                 const float *xv, const float *wv, float scale,
                                                 int nvec, int clamp)
{
    const uint16_t *codes = lst + 1;
    const VT sq = T_MUL(T_SET1(scale), T_LOADU(qlev));
    const VF fmax = F_SET1(FLT_MAX);
#define NB_CLAMP(v) (clamp ? F_MIN(v, fmax) : (v))
    NB_TERMS(sq, xv, wv);
    VF best = NB_CLAMP(NB_DIST(I_LOAD_U16(codes))); /* FLT_MAX unless strictly below it */
    if (nvec == 1) {
        const VF m = F_HMIN(best);
        const unsigned eq = M_BITS(M_CMP(best, m, _CMP_EQ_OQ));
        return F_FIRST(m) < FLT_MAX ? codes[__builtin_ctz(eq)] : T->code0;
    }
#if W == 8
    if (nvec == 2) {
        /* no NaN (clamped or none possible): the smallest of both, the first position */
        const VF b1 = NB_CLAMP(NB_DIST(I_LOAD_U16(codes + 8)));
        const VF m = F_HMIN(F_MIN(best, b1));
        const uint32_t eq = M_BITS(M_CMP(best, m, _CMP_EQ_OQ)) | M_BITS(M_CMP(b1, m, _CMP_EQ_OQ))
                                                                     << 8;
        return F_FIRST(m) < FLT_MAX ? codes[__builtin_ctz(eq)] : T->code0;
    }
#endif
    if (nvec == 2) {
        /* lane j holds candidate j, or j + W where lt: any tied first-vector lane comes first */
        const VF d = NB_DIST(I_LOAD_U16(codes + W));
        const VM lt = M_CMP(d, best, _CMP_LT_OQ);
        best = F_BLEND(best, d, lt);
        const VF m = F_HMIN(best);
        const unsigned eq = M_BITS(M_CMP(best, m, _CMP_EQ_OQ)), first = eq & ~M_BITS(lt);
        const int p = first ? __builtin_ctz(first) : W + __builtin_ctz(eq);
        return F_FIRST(m) < FLT_MAX ? codes[p] : T->code0;
    }
#if W == 8
    if (nvec == 4) {
        /* every vector clamped, the smallest of all, then the first position holding it: bit
         * 8 v + j for candidate 8 v + j (no position lanes, no blend chain) */
        const VF b1 = NB_CLAMP(NB_DIST(I_LOAD_U16(codes + 8)));
        const VF b2 = NB_CLAMP(NB_DIST(I_LOAD_U16(codes + 16)));
        const VF b3 = NB_CLAMP(NB_DIST(I_LOAD_U16(codes + 24)));
        const VF m = F_HMIN(F_MIN(F_MIN(best, b1), F_MIN(b2, b3)));
        const uint32_t eq =
            M_BITS(M_CMP(best, m, _CMP_EQ_OQ)) | M_BITS(M_CMP(b1, m, _CMP_EQ_OQ)) << 8 |
            M_BITS(M_CMP(b2, m, _CMP_EQ_OQ)) << 16 | M_BITS(M_CMP(b3, m, _CMP_EQ_OQ)) << 24;
        return F_FIRST(m) < FLT_MAX ? codes[__builtin_ctz(eq)] : T->code0;
    }
#endif
    const int n = nvec ? nvec * W : lst[0];
    VI pos = I_LOADU(lane_index), bpos = pos;
    for (int c = W; c < n; c += W) {
        pos = I_ADD(pos, I_SET1(W));
        const VF d = NB_DIST(I_LOAD_U16(codes + c));
        const VM lt = M_CMP(d, best, _CMP_LT_OQ);
        best = F_BLEND(best, d, lt);
        bpos = I_BLEND(bpos, pos, lt);
    }
    const VF m = F_HMIN(best);
    if (!(F_FIRST(m) < FLT_MAX))
        return T->code0;
    const VM eq = M_CMP(best, m, _CMP_EQ_OQ);
    return codes[I_HMIN(I_BLEND(I_SET1(0x7fffffff), bpos, eq))];
#undef NB_CLAMP
}

TC_ISA_ATTR static ALWAYS_INLINE int nb_search(const tc_iq3_lists *T, const uint16_t *lst,
                                               const float *xv, const float *wv, float scale,
                                               int nvec)
{
    return nb_search_k(T, lst, xv, wv, scale, nvec, 1);
}

#if W == 8 && TC_GRID_AVX2
/*
 * Two searches of lists of at most 4 candidates in the two 128-bit halves of 8 lanes: lanes
 * 0..3 search a's candidates, 4..7 b's (a list's padding copies tie and come later). No term
 * tables: each lane computes its own candidate's terms, the reference's operations on the
 * reference's operands: q = 2l + 1 (qlev permuted by the level), diff = scale*q - x,
 * (w*diff)*diff, added in element order (from the first term, as nb_search). Each half keeps
 * its smallest distance (clamped to FLT_MAX as nb_search) and the first lane holding it, by
 * in-lane shuffles. The x and weights of both groups are read as two halves and spread by in-lane
 * shuffles (no branch on whether the groups are one: with broadcasts when they are, measured no
 * faster than without that branch's mispredicts).
 */
static ALWAYS_INLINE void nb_search_pair4(const tc_iq3_lists *T, const uint16_t *la,
                                          const float *xa, const float *wa_, float sa,
                                          const uint16_t *lb, const float *xb, const float *wb,
                                          float sb, int32_t *ra, int32_t *rb, int clamp)
{
    const __m256 fmax = _mm256_set1_ps(FLT_MAX), q8 = _mm256_loadu_ps(qlev);
    const __m256i C = _mm256_cvtepu16_epi32(_mm_unpacklo_epi64(
        _mm_loadl_epi64((const __m128i *)(la + 1)), _mm_loadl_epi64((const __m128i *)(lb + 1))));
    const __m256 s = _mm256_insertf128_ps(_mm256_set1_ps(sa), _mm_set1_ps(sb), 1);
    const __m256 X = _mm256_loadu2_m128(xb, xa), Wv = _mm256_loadu2_m128(wb, wa_);
#define P4_TERM(j, c)                                                                              \
    ({                                                                                             \
        const __m256 x_ = _mm256_permute_ps(X, 0x55 * (j)),                                        \
                     w_ = _mm256_permute_ps(Wv, 0x55 * (j));                                       \
        const __m256 d_ = _mm256_sub_ps(_mm256_mul_ps(s, _mm256_permutevar8x32_ps(q8, c)), x_);    \
        _mm256_mul_ps(_mm256_mul_ps(w_, d_), d_);                                                  \
    })
    __m256 d = _mm256_add_ps(P4_TERM(0, C), P4_TERM(1, _mm256_srli_epi32(C, 4)));
    d = _mm256_add_ps(d, P4_TERM(2, _mm256_srli_epi32(C, 8)));
    d = _mm256_add_ps(d, P4_TERM(3, _mm256_srli_epi32(C, 12)));
#undef P4_TERM
    const __m256 best = clamp ? _mm256_min_ps(d, fmax) : d;
    __m256 m = _mm256_min_ps(best, _mm256_permute_ps(best, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm256_min_ps(m, _mm256_permute_ps(m, _MM_SHUFFLE(2, 3, 0, 1)));
    const unsigned eq = (unsigned)_mm256_movemask_ps(
        _mm256_and_ps(_mm256_cmp_ps(m, fmax, _CMP_LT_OQ), _mm256_cmp_ps(best, m, _CMP_EQ_OQ)));
    const unsigned ea = eq & 15, eb = eq >> 4;
    *ra = ea ? la[1 + __builtin_ctz(ea)] : T->code0;
    *rb = eb ? lb[1 + __builtin_ctz(eb)] : T->code0;
}
#endif

#if W == 16
/* The terms of both searches of a pair (NB_TERMS in the two halves): lanes 0..7 search a's,
 * 8..15 search b's; x and weights by plain broadcasts when both are of one group. */
#define PAIR_TERM(i)                                                                               \
    ({                                                                                             \
        const __m512 x_ =                                                                          \
            same ? _mm512_set1_ps(xa[i])                                                           \
                 : _mm512_mask_mov_ps(_mm512_set1_ps(xa[i]), hi, _mm512_set1_ps(xb[i]));           \
        const __m512 w_ =                                                                          \
            same ? _mm512_set1_ps(wa_[i])                                                          \
                 : _mm512_mask_mov_ps(_mm512_set1_ps(wa_[i]), hi, _mm512_set1_ps(wb[i]));          \
        const __m512 d_ = _mm512_sub_ps(sq, x_);                                                   \
        _mm512_mul_ps(_mm512_mul_ps(w_, d_), d_);                                                  \
    })
#define PAIR_TERMS()                                                                               \
    const __m512 sq = _mm512_mul_ps(                                                               \
        _mm512_mask_mov_ps(_mm512_set1_ps(sa), hi, _mm512_set1_ps(sb)), _mm512_loadu_ps(qlev));    \
    const __m512 e0 = PAIR_TERM(0), e1 = PAIR_TERM(1), e2 = PAIR_TERM(2), e3 = PAIR_TERM(3)

/*
 * Two searches in the two halves of 16 lanes, lists of at most 8 candidates (class 0): lanes
 * 8..15 hold search b's terms (each lane its own operations, as above) and its candidates'
 * indices have bit 3 set, so they read the upper half of the term tables. The smallest
 * distance and the first lane holding it are found in each half separately. `same`: both groups
 * are one (the same x and weights in both halves; the trials differ).
 */
TC_ISA_ATTR static ALWAYS_INLINE void nb_search_pair(const tc_iq3_lists *T, const uint16_t *la,
                                                     const float *xa, const float *wa_, float sa,
                                                     const uint16_t *lb, const float *xb,
                                                     const float *wb, float sb, int32_t *ra,
                                                     int32_t *rb, int same)
{
    const __mmask16 hi = 0xff00;
    const __m512 fmax = _mm512_set1_ps(FLT_MAX);
    PAIR_TERMS();
    const __m256i cab =
        _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(la + 1))),
                                _mm_loadu_si128((const __m128i *)(lb + 1)), 1);
    const __m512i C =
        _mm512_or_si512(_mm512_cvtepu16_epi32(cab), _mm512_maskz_set1_epi32(hi, 0x8888));
    __m512 d2 = _mm512_add_ps(_mm512_permutexvar_ps(C, e0),
                              _mm512_permutexvar_ps(_mm512_srli_epi32(C, 4), e1));
    d2 = _mm512_add_ps(d2, _mm512_permutexvar_ps(_mm512_srli_epi32(C, 8), e2));
    d2 = _mm512_add_ps(d2, _mm512_permutexvar_ps(_mm512_srli_epi32(C, 12), e3));
    const __m512 best = _mm512_min_ps(d2, fmax);
    __m512 m = _mm512_min_ps(best, _mm512_shuffle_f32x4(best, best, _MM_SHUFFLE(2, 3, 0, 1)));
    m = _mm512_min_ps(m, _mm512_permute_ps(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm512_min_ps(m, _mm512_permute_ps(m, _MM_SHUFFLE(2, 3, 0, 1)));
    const unsigned eq = (unsigned)_mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(m, fmax, _CMP_LT_OQ),
                                                          best, m, _CMP_EQ_OQ);
    const unsigned ea = eq & 0xff, eb = eq >> 8;
    *ra = ea ? la[1 + __builtin_ctz(ea)] : T->code0;
    *rb = eb ? lb[1 + __builtin_ctz(eb)] : T->code0;
}
/*
 * Two searches of lists of at most 16 candidates (class 1) sharing one set of term tables
 * (PAIR_TERMS): search b's candidates read the upper halves (index bit 3 set). Each search's
 * distances fill a vector; the two are reduced together, a's minimum to lanes 0..7 and b's to
 * 8..15 (min without NaN: the FLT_MAX clamp removed them), then each keeps its first lane
 * holding its minimum, as nb_search with one vector.
 */
TC_ISA_ATTR static ALWAYS_INLINE void nb_search_pair16(const tc_iq3_lists *T, const uint16_t *la,
                                                       const float *xa, const float *wa_, float sa,
                                                       const uint16_t *lb, const float *xb,
                                                       const float *wb, float sb, int32_t *ra,
                                                       int32_t *rb, int same)
{
    const __mmask16 hi = 0xff00;
    const __m512 fmax = _mm512_set1_ps(FLT_MAX);
    PAIR_TERMS();
    const __m512i CA = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(la + 1)));
    const __m512i CB =
        _mm512_or_si512(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(lb + 1))),
                        _mm512_set1_epi32(0x8888));
    __m512 da = _mm512_add_ps(_mm512_permutexvar_ps(CA, e0),
                              _mm512_permutexvar_ps(_mm512_srli_epi32(CA, 4), e1));
    __m512 db = _mm512_add_ps(_mm512_permutexvar_ps(CB, e0),
                              _mm512_permutexvar_ps(_mm512_srli_epi32(CB, 4), e1));
    da = _mm512_add_ps(da, _mm512_permutexvar_ps(_mm512_srli_epi32(CA, 8), e2));
    db = _mm512_add_ps(db, _mm512_permutexvar_ps(_mm512_srli_epi32(CB, 8), e2));
    da = _mm512_add_ps(da, _mm512_permutexvar_ps(_mm512_srli_epi32(CA, 12), e3));
    db = _mm512_add_ps(db, _mm512_permutexvar_ps(_mm512_srli_epi32(CB, 12), e3));
    const __m512 ba = _mm512_min_ps(da, fmax), bb = _mm512_min_ps(db, fmax);
    __m512 m = _mm512_min_ps(_mm512_shuffle_f32x4(ba, bb, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(ba, bb, _MM_SHUFFLE(3, 2, 3, 2)));
    m = _mm512_min_ps(m, _mm512_shuffle_f32x4(m, m, _MM_SHUFFLE(2, 3, 0, 1)));
    m = _mm512_min_ps(m, _mm512_permute_ps(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm512_min_ps(m, _mm512_permute_ps(m, _MM_SHUFFLE(2, 3, 0, 1)));
    const unsigned fin = (unsigned)_mm512_cmp_ps_mask(m, fmax, _CMP_LT_OQ);
    const unsigned ea = (unsigned)_mm512_cmp_ps_mask(
        ba, _mm512_shuffle_f32x4(m, m, _MM_SHUFFLE(0, 0, 0, 0)), _CMP_EQ_OQ);
    const unsigned eb = (unsigned)_mm512_cmp_ps_mask(
        bb, _mm512_shuffle_f32x4(m, m, _MM_SHUFFLE(2, 2, 2, 2)), _CMP_EQ_OQ);
    *ra = fin & 1 ? la[1 + __builtin_ctz(ea)] : T->code0;
    *rb = fin >> 8 & 1 ? lb[1 + __builtin_ctz(eb)] : T->code0;
}
/*
 * The searches of a work list of class `cls` (0: lists of at most 8, 1: at most 16; entries
 * 32 * group + trial), two at a time, the odd one alone; the results to cflat at the entries.
 * The lists are in group order: most pairs are of one group (`same`, a constant in each call).
 */
TC_ISA_ATTR static ALWAYS_INLINE void search_pairs(const tc_iq3_lists *T, const uint32_t *wid,
                                                   int nw, const int32_t *mall, const float *xval,
                                                   const float *wa, const float *sc, int32_t *cflat,
                                                   int cls)
{
#define PAIR_ARGS(u) NB_LIST(T, mall[u]), xval + 4 * ((u) >> 5), wa + 4 * ((u) >> 5), sc[(u)&31]
#define PAIR(same)                                                                                 \
    (cls ? nb_search_pair16(T, PAIR_ARGS(a), PAIR_ARGS(b), cflat + a, cflat + b, same)             \
         : nb_search_pair(T, PAIR_ARGS(a), PAIR_ARGS(b), cflat + a, cflat + b, same))
    int j = 0;
    for (; j + 1 < nw; j += 2) {
        const uint32_t a = wid[j], b = wid[j + 1];
        if ((a ^ b) >> 5 == 0)
            PAIR(1);
        else
            PAIR(0);
    }
    if (j < nw)
        cflat[wid[j]] = nb_search(T, PAIR_ARGS(wid[j]), 1);
#undef PAIR
#undef PAIR_ARGS
}
#endif

/* Per element i of a sub-block: (w*x)*q and (w*q)*q for the 8 levels (lane l mod 8). */
typedef struct sums_tab {
    VT wxq[32], wqq[32];
} sums_tab;

TC_ISA_ATTR static inline void sums_prep(const float *w, const float *xval, sums_tab *st)
{
    const VT q = T_LOADU(qlev);
    for (int i = 0; i < 32; i++) {
        st->wxq[i] = T_MUL(T_SET1(w[i] * xval[i]), q);
        st->wqq[i] = T_MUL(T_MUL(T_SET1(w[i]), q), q);
    }
}

/* fit_sums of the lanes' levels: group k's code4s in cod[k]. */
TC_ISA_ATTR static inline void lane_sums(const sums_tab *st, const VI *cod, VF *sumqx, VF *sumq2)
{
    VF sx = F_ZERO, s2 = F_ZERO;
    for (int k = 0; k < 8; k++)
        for (int j = 0; j < 4; j++) {
            const VI idx = I_SRLI(cod[k], 4 * j);
            sx = F_ADD(sx, T_PERM(st->wxq[4 * k + j], idx));
            s2 = F_ADD(s2, T_PERM(st->wqq[4 * k + j], idx));
        }
    *sumqx = sx;
    *sumq2 = s2;
}

/* The reference's fit_sums of one set of code4s (lane 0 of lane_sums). */
TC_ISA_ATTR static inline void code_sums(const sums_tab *st, const int *codes, float *sumqx,
                                         float *sumq2)
{
    VI cod[8];
    for (int k = 0; k < 8; k++)
        cod[k] = I_SET1(codes[k]);
    VF sx, s2;
    lane_sums(st, cod, &sx, &s2);
    *sumqx = F_FIRST(sx);
    *sumq2 = F_FIRST(s2);
}

/* A search by the class of its list (lists are padded to 16 candidates: W = 8 may always read
 * two vectors, W = 16 one, W = 4 four). */
TC_ISA_ATTR static inline int nb_search_any(const tc_iq3_lists *T, int32_t m, const float *xv,
                                            const float *wv, float scale)
{
    const uint16_t *lst = NB_LIST(T, m);
    const unsigned cls = NB_CLASS(m);
    if (cls <= 1)
        return nb_search(T, lst, xv, wv, scale, 16 / W);
    if (cls == 2)
        return nb_search(T, lst, xv, wv, scale, 32 / W);
    return nb_search(T, lst, xv, wv, scale, 0);
}

#if W == 16
/* IQ3_S's packed trials 16..18 (sub_search): lane q is group q / 3, trial 16 + q % 3; 4 * group
 * and the work id 32 * group + trial (the padding lanes repeat the last) */
static const int32_t tail_k4[32] = {0,  0,  0,  4,  4,  4,  8,  8,  8,  12, 12, 12, 16, 16, 16, 20,
                                    20, 20, 24, 24, 24, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28};
static const int32_t tail_id[32] = {16,  17,  18,  48,  49,  50,  80,  81,  82,  112, 113,
                                    114, 144, 145, 146, 176, 177, 178, 208, 209, 210, 240,
                                    241, 242, 242, 242, 242, 242, 242, 242, 242, 242};
#endif

#if TC_GRID_AVX2
#define requant8 tc_iq3q_requant8
#else
/* The requantization's codes of the 8 groups of a sub-block at inverse scale id, W groups at a
 * time (lane = group; group_codes_x's mask form per value, as the reference's level_of) to gc,
 * their map entries to gm; returns the groups off the grid (bit k: group k). */
TC_ISA_ATTR static inline unsigned requant8(const int32_t *map, float id, const float *xval,
                                            int32_t *gc, int32_t *gm)
{
    unsigned off = 0;
    const VF idv = F_SET1(id);
    for (int k0 = 0; k0 < 8; k0 += W) {
        VF xg[4];
        for (int j = 0; j < 4; j++) {
            float t[W];
            for (int l = 0; l < W; l++)
                t[l] = xval[4 * (k0 + l) + j];
            xg[j] = F_LOADU(t);
        }
        const VI c = group_codes_x(idv, xg, 0);
        const VI m = I_GATHER(map, lane_code3(c));
        I_STOREU(gc + k0, c);
        I_STOREU(gm + k0, m);
        off |= M_BITS(M_ICMPGT(I_ZERO, m)) << k0;
    }
    return off;
}
#endif

/* the smallest of 32 xval (not NaN) */
#if TC_GRID_AVX2
#define xval_min tc_iq3q_xval_min
#else
static inline float xval_min(const float *xval)
{
    float m = xval[0];
    for (int i = 1; i < 32; i++)
        m = xval[i] < m ? xval[i] : m;
    return m;
}
#endif

/*
 * iq3_search of the reference (steps 2 and 3) for one sub-block: xval, weights w, their square
 * roots wa, max (> 0); `xxs` selects IQ3_XXS's variant. Writes the 8 groups' code4s to L and
 * returns the scale.
 */
TC_ISA_ATTR static float sub_search(const tc_iq3_lists *T, const float *xval, const float *w,
                                    const float *wa, float max, int xxs, int L[8])
{
    const int nis = xxs ? 15 : 9, nt = 2 * nis + 1, nv = (nt + W - 1) / W;
    float sc[NV_MAX * W], sumqx[NV_MAX * W], sumq2[NV_MAX * W];
    int32_t cod[8][NV_MAX * W];
    /* id <= 18.0001/max: with every xval in [-4 max, max] (always, but for an IQ3_XXS parity
     * flip of a large value of small weight) |f| < 37 */
    const float xmin = xval_min(xval);
    const int small = xmin >= -4 * max;
#if W == 16
    /* IQ3_S: trials 16..18 of the 8 groups in two vectors (lane 3k + t - 16), not in 8 mostly
     * empty ones */
    const int tail = !xxs;
    VF id_hi = F_ZERO;
#else
    const int tail = 0;
#endif
    const int nvg = tail ? 1 : nv; /* vectors of trials by group */
    /* trial scales; padding lanes repeat the last trial */
    for (int v = 0; v < nv; v++) {
        const VI is = I_MIN(I_SET1(nis), I_ADD(I_LOADU(lane_index), I_SET1(v * W - nis)));
        const VF id = F_DIV(
            F_ADD(F_SET1((float)(2 * IQ3_MAXQ - 1)), F_MUL(I_TO_F(is), F_SET1(0.2f))), F_SET1(max));
        F_STOREU(sc + v * W, F_DIV(F_SET1(1.0f), id));
#if W == 16
        id_hi = id;
#endif
        if (v >= nvg)
            continue;
        if (small)
            for (int k = 0; k < 8; k++)
                I_STOREU(cod[k] + v * W, group_codes(id, xval + 4 * k, 1));
        else
            for (int k = 0; k < 8; k++)
                I_STOREU(cod[k] + v * W, group_codes(id, xval + 4 * k, 0));
    }
    /* the off-grid groups of every trial, by class (branch-free), then their searches */
#if W == 8 && TC_GRID_AVX2
#define NCLS 5 /* class 4 (NB_CLASS4): lists of at most 4, searched in pairs (nb_search_pair4) */
#else
#define NCLS 4
#endif
    uint32_t wid[NCLS][8 * NV_MAX * W + W]; /* + W: a compress-store writes W values */
    int32_t mall[8 * NV_MAX * W];           /* the map entries of all codes, at 32 * k + t */
    int nw[NCLS] = {0};
    unsigned ong[8] = {0};
    /* one counter per class in a register: through memory they chain the vectors by
     * store-forwarding */
    int n0 = 0, n1 = 0, n2 = 0, n3 = 0, n4 = 0;
#if NCLS == 5
    uint8_t bm[4][32]; /* per class, the off-grid lanes of group k's trial vector v at 4 k + v */
#endif
#if W == 16
    int32_t tcod[32], tmap[32];
    if (tail) {
        const __m512 xlo = _mm512_loadu_ps(xval), xhi = _mm512_loadu_ps(xval + 16);
        for (int u = 0; u < 2; u++) {
            const __m512i k4 = _mm512_loadu_si512((const void *)(tail_k4 + 16 * u));
            const __m512i tt = _mm512_loadu_si512((const void *)(tail_id + 16 * u));
            const __m512 x[4] = {_mm512_permutex2var_ps(xlo, k4, xhi),
                                 _mm512_permutex2var_ps(xlo, I_ADD(k4, I_SET1(1)), xhi),
                                 _mm512_permutex2var_ps(xlo, I_ADD(k4, I_SET1(2)), xhi),
                                 _mm512_permutex2var_ps(xlo, I_ADD(k4, I_SET1(3)), xhi)};
            const __m512 idl = _mm512_permutexvar_ps(tt, id_hi); /* t & 15: lane of id_hi */
            I_STOREU(tcod + 16 * u, small ? group_codes_x(idl, x, 1) : group_codes_x(idl, x, 0));
        }
        for (int k = 0; k < 8; k++) {
            I_STOREU(cod[k] + 16, I_ZERO);
            for (int i = 0; i < 3; i++)
                cod[k][16 + i] = tcod[3 * k + i];
        }
    }
#endif
    for (int k = 0; k < 8; k++)
        for (int v = 0; v < nvg; v++) {
            const unsigned valid = nt - v * W >= W ? (1u << W) - 1 : (1u << (nt - v * W)) - 1;
            const VI m = I_GATHER(T->map, lane_code3(I_LOADU(cod[k] + v * W)));
            I_STOREU(mall + 32 * k + v * W, m);
            const unsigned off = M_BITS(M_ICMPGT(I_ZERO, m)) & valid;
            ong[k] |= (~off & valid) << v * W;
            const VI cls = I_AND(I_SUB(I_SET1(-1), m), I_SET1(NCLS == 5 && xxs ? 7 : 3));
            const VI id = I_ADD(I_LOADU(lane_index), I_SET1(k * 32 + v * W));
#define CLASS_LIST(c, n)                                                                           \
    do {                                                                                           \
        const unsigned b_ = off & M_BITS(M_ICMPEQ(cls, I_SET1(c)));                                \
        I_COMPRESS_STORE((int32_t *)wid[c] + n, id, b_);                                           \
        n += __builtin_popcount(b_);                                                               \
    } while (0)
#if NCLS == 5
            (void)id;
            bm[0][4 * k + v] = (uint8_t)(off & M_BITS(M_ICMPEQ(cls, I_ZERO)));
            bm[1][4 * k + v] = (uint8_t)(off & M_BITS(M_ICMPEQ(cls, I_SET1(1))));
            bm[2][4 * k + v] = (uint8_t)(off & M_BITS(M_ICMPEQ(I_AND(cls, I_SET1(6)), I_SET1(2))));
            bm[3][4 * k + v] = (uint8_t)(off & M_BITS(M_ICMPEQ(cls, I_SET1(4))));
#else
            CLASS_LIST(0, n0);
            CLASS_LIST(1, n1);
            CLASS_LIST(2, n2);
            CLASS_LIST(3, n3);
#endif
        }
#if NCLS == 5
#define CLASS_PASS(c, bmc, n)                                                                      \
    for (int k = 0; k < 8; k++)                                                                    \
        for (int v = 0; v < nvg; v++) {                                                            \
            const VI id = I_ADD(I_LOADU(lane_index), I_SET1(k * 32 + v * W));                      \
            const unsigned b_ = bm[bmc][4 * k + v];                                                \
            I_COMPRESS_STORE((int32_t *)wid[c] + n, id, b_);                                       \
            n += __builtin_popcount(b_);                                                           \
        }
    CLASS_PASS(0, 0, n0);
    CLASS_PASS(1, 1, n1);
    CLASS_PASS(2, 2, n2);
    if (xxs) /* IQ3_S: fewer short lists, the fifth list costs more than its pairs save */
        CLASS_PASS(4, 3, n4);
#undef CLASS_PASS
#endif
#if W == 16
    if (tail) {
        unsigned offt = 0;
        for (int u = 0; u < 2; u++) {
            const unsigned valid = u ? 0xffu : 0xffffu;
            const VI m = I_GATHER(T->map, lane_code3(I_LOADU(tcod + 16 * u)));
            I_STOREU(tmap + 16 * u, m);
            const unsigned off = M_BITS(M_ICMPGT(I_ZERO, m)) & valid;
            offt |= off << 16 * u;
            const VI cls = I_AND(I_SUB(I_SET1(-1), m), I_SET1(3));
            const VI id = I_LOADU(tail_id + 16 * u);
            CLASS_LIST(0, n0);
            CLASS_LIST(1, n1);
            CLASS_LIST(2, n2);
            CLASS_LIST(3, n3);
        }
        for (int k = 0; k < 8; k++) {
            ong[k] |= (~offt >> 3 * k & 7) << 16;
            for (int i = 0; i < 3; i++)
                mall[32 * k + 16 + i] = tmap[3 * k + i];
        }
    }
#endif
#undef CLASS_LIST
    nw[0] = n0;
    nw[1] = n1;
    nw[2] = n2;
    nw[3] = n3;
#if NCLS == 5
    nw[4] = n4;
#else
    (void)n4;
#endif
    int32_t *const cflat = cod[0]; /* trial t of group k at 32 * k + t */
#define NB_ARGS(c, j)                                                                              \
    NB_LIST(T, mall[wid[c][j]]), xval + 4 * (wid[c][j] >> 5), wa + 4 * (wid[c][j] >> 5),           \
        sc[wid[c][j] & 31]
#if W == 16
    search_pairs(T, wid[0], nw[0], mall, xval, wa, sc, cflat, 0);
    search_pairs(T, wid[1], nw[1], mall, xval, wa, sc, cflat, 1);
    for (int j = 0; j < nw[2]; j++)
        cflat[wid[2][j]] = nb_search(T, NB_ARGS(2, j), 2);
#else
#if NCLS == 5
    /* CL: whether distances are clamped to FLT_MAX before their minimum (nb_search_k) */
#define SEARCHES8(CL)                                                                              \
    do {                                                                                           \
        int j = 0;                                                                                 \
        for (; j + 1 < nw[4]; j += 2) {                                                            \
            const uint32_t a = wid[4][j], b = wid[4][j + 1];                                       \
            nb_search_pair4(T, P4_ARGS(a), P4_ARGS(b), cflat + a, cflat + b, CL);                  \
        }                                                                                          \
        if (j < nw[4]) {                                                                           \
            const uint32_t a = wid[4][j];                                                          \
            nb_search_pair4(T, P4_ARGS(a), P4_ARGS(a), cflat + a, cflat + a, CL);                  \
        }                                                                                          \
        for (j = 0; j < nw[0]; j++)                                                                \
            cflat[wid[0][j]] = nb_search_k(T, NB_ARGS(0, j), 1, CL);                               \
        for (j = 0; j < nw[1]; j++)                                                                \
            cflat[wid[1][j]] = nb_search_k(T, NB_ARGS(1, j), 2, CL);                               \
        for (j = 0; j < nw[2]; j++)                                                                \
            cflat[wid[2][j]] = __builtin_expect(NB_LIST(T, mall[wid[2][j]])[0] > 32, 0)            \
                                   ? nb_search_k(T, NB_ARGS(2, j), 0, CL)                          \
                                   : nb_search_k(T, NB_ARGS(2, j), 4, CL);                         \
    } while (0)
#define P4_ARGS(u) NB_LIST(T, mall[u]), xval + 4 * ((u) >> 5), wa + 4 * ((u) >> 5), sc[(u)&31]
    /* Without NaN among the distances their minimum needs no clamp: the lanes below FLT_MAX
     * are the same with or without it, and so are the minimum (when below FLT_MAX), the lanes
     * equal to it and, for them, every earlier comparison (a lane's first value below FLT_MAX
     * replaces both FLT_MAX and +Inf); when the minimum is not below FLT_MAX the answer is
     * code0 either way. A distance is a sum of terms (w*diff)*diff >= 0 (w = the square root
     * of a weight, never negative but -0), so it is NaN only when a term is: never when every w
     * is finite and every diff is. diff = scale*q - x here: scale = 1/id < max/11.99 (id =
     * (15 + 0.2f*is)/max with is >= -15, the numerator >= 11.99 after its roundings; scale is 0
     * when id overflows), q <= 15 and x in [xmin, max], so |diff| < 2.3e37 when max <= 1e37 and
     * xmin >= -1e37. */
    int unclamped = max <= 1e37f && xmin >= -1e37f;
    {
        const __m256 lim = _mm256_set1_ps(FLT_MAX);
        __m256 ok = _mm256_cmp_ps(_mm256_loadu_ps(wa), lim, _CMP_LE_OQ); /* NaN false */
        for (int i = 8; i < 32; i += 8)
            ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_loadu_ps(wa + i), lim, _CMP_LE_OQ));
        unclamped &= _mm256_movemask_ps(ok) == 0xff;
    }
    if (unclamped)
        SEARCHES8(0);
    else
        SEARCHES8(1);
#undef P4_ARGS
#undef SEARCHES8
#else
    for (int j = 0; j < nw[0]; j++)
        cflat[wid[0][j]] = nb_search(T, NB_ARGS(0, j), 8 / W);
    for (int j = 0; j < nw[1]; j++)
        cflat[wid[1][j]] = nb_search(T, NB_ARGS(1, j), 16 / W);
    for (int j = 0; j < nw[2]; j++)
        cflat[wid[2][j]] = nb_search(T, NB_ARGS(2, j), 32 / W);
#endif
#endif
    for (int j = 0; j < nw[3]; j++)
        cflat[wid[3][j]] = nb_search(T, NB_ARGS(3, j), 0);
#undef NB_ARGS
    /* the trials' fits */
    sums_tab st;
    sums_prep(w, xval, &st);
    for (int v = 0; v < nv; v++) {
        VI c[8];
        for (int k = 0; k < 8; k++)
            c[k] = I_LOADU(cod[k] + v * W);
        VF sx, s2;
        lane_sums(&st, c, &sx, &s2);
        F_STOREU(sumqx + v * W, sx);
        F_STOREU(sumq2 + v * W, s2);
    }
    /* the reference's choice, in trial order */
    float cs[NV_MAX * W], cb[NV_MAX * W];
    for (int v = 0; v < nv; v++) {
        const VF sx = F_LOADU(sumqx + v * W), q = F_DIV(sx, F_LOADU(sumq2 + v * W));
        F_STOREU(cs + v * W, q);
        F_STOREU(cb + v * W, F_MUL(q, sx));
    }
    float scale = max / (2 * IQ3_MAXQ - 1);
    int tb = -1;
#if W == 8
    {
        VF sq[NV_MAX], q2[NV_MAX];
        unsigned pos = 0;
        for (int v = 0; v < nv; v++) {
            const VF sx = F_LOADU(sumqx + v * W);
            sq[v] = F_MUL(sx, sx);
            q2[v] = F_LOADU(sumq2 + v * W);
            pos |= M_BITS(M_CMP(q2[v], F_ZERO, _CMP_GT_OQ)) << v * W;
        }
        pos &= nt < 32 ? (1u << nt) - 1 : ~0u;
        float best = 0;
        unsigned later = ~0u;
        for (;;) {
            unsigned win = 0;
            const VF b = F_SET1(best);
            for (int v = 0; v < nv; v++)
                win |= M_BITS(M_CMP(sq[v], F_MUL(b, q2[v]), _CMP_GT_OQ)) << v * W;
            win &= pos & later;
            if (!win)
                break;
            tb = __builtin_ctz(win);
            best = cb[tb];
            later = ~((2u << tb) - 1);
        }
        if (tb >= 0)
            scale = cs[tb];
    }
#else
    float best = 0;
    for (int t = 0; t < nt; t++) {
        const int win = (sumq2[t] > 0) & (sumqx[t] * sumqx[t] > best * sumq2[t]);
        best = win ? cb[t] : best;
        scale = win ? cs[t] : scale;
        tb = win ? t : tb;
    }
#endif
    unsigned on = xxs ? 0xffu : 0; /* bit k: group k on the grid */
    for (int k = 0; k < 8; k++) {
        L[k] = tb >= 0 ? cod[k][tb] : 0;
        if (tb >= 0)
            on = (on & ~(1u << k)) | ((ong[k] >> tb) & 1) << k;
    }
    if (on != 0xffu && scale > 0) {
        /* IQ3_XXS re-rounds the off-grid groups, IQ3_S all */
        int32_t gc[8], gm[8];
        const unsigned redo = xxs ? ~on & 0xffu : 0xffu;
        const unsigned off = requant8(T->map, 1 / scale, xval, gc, gm) & redo;
        for (int k = 0; k < 8; k++)
            L[k] = redo >> k & 1 ? gc[k] : L[k];
        for (unsigned b = off; b; b &= b - 1) {
            const int k = __builtin_ctz(b);
            /* note: the fitted scale here, not 1/id */
            L[k] = nb_search_any(T, gm[k], xval + 4 * k, wa + 4 * k, scale);
        }
        float sx, s2;
        code_sums(&st, L, &sx, &s2);
        if (s2 > 0)
            scale = sx / s2;
    }
    return scale;
}

/* ===== Step 1: weights, magnitudes, signs ===== */

/* sigma2 = 2 * sum(x^2) / 256 over the block, summed in order (ref's block_sigma2). */
static inline float block_sigma2(const float *x)
{
    float sumx2 = 0;
    for (int i = 0; i < QK_K; i++)
        sumx2 += x[i] * x[i];
    return 2 * sumx2 / QK_K;
}

#if TC_GRID_AVX2
#define sub_prep tc_iq3q_sub_prep8
#else
/* sub_prep in the W-lane ops, 8 / W vectors a group (W <= 8); the largest xval as the
 * reference's MAX in element order. */
TC_ISA_ATTR static inline float sub_prep(const float *xb, const float *qw, float sigma2, int xxs,
                                         float *w, float *wa, float *xval, unsigned *signs)
{
    const VF zero = F_ZERO;
    float max = -INFINITY;
    for (int k = 0; k < 4; k++) {
        unsigned s = 0;
        for (int h = 0; h < 8; h += W) {
            const int o = 8 * k + h;
            const VF x = F_LOADU(xb + o), x2 = F_MUL(x, x);
            const VF wk = qw ? F_MUL(F_LOADU(qw + o), F_SQRT(F_ADD(F_SET1(sigma2), x2))) : x2;
            F_STOREU(w + o, wk);
            F_STOREU(wa + o, F_SQRT(wk));
            const VM neg = M_CMP(x, zero, _CMP_LT_OQ); /* !(x >= 0): x is not NaN */
            F_STOREU(xval + o, F_BLEND(x, F_NEG(x), neg));
            s |= M_BITS(neg) << h;
        }
        if (xxs && (__builtin_popcount(s) & 1)) {
            const int imin = tc_parity_min(w + 8 * k, xb + 8 * k);
            s ^= 1u << imin;
            xval[8 * k + imin] = -xval[8 * k + imin];
        }
        if (xxs)
            s &= 127;
        signs[k] = s;
        for (int i = 0; i < 8; i++)
            max = maxf_ggml(max, xval[8 * k + i]);
    }
    return max;
}
#endif

/* ===== Blocks ===== */

TC_ISA_ATTR static void xxs_block(const tc_iq3_lists *T, const float *x, const float *qw,
                                  uint8_t *y)
{
    float scales[8], w[32], wa[32], xval[32];
    uint8_t q3[96] = {0};
    float max_scale = 0;
    const float sigma2 = qw ? block_sigma2(x) : 0;
    for (int ib = 0; ib < 8; ib++) {
        unsigned bs[4];
        const float max =
            sub_prep(x + 32 * ib, qw ? qw + 32 * ib : NULL, sigma2, 1, w, wa, xval, bs);
        if (max < IQ3_XXS_EPS) {
            scales[ib] = 0;
            continue;
        }
        int L[8];
        float scale = sub_search(T, xval, w, wa, max, 1, L);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 4; k++)
                bs[k] = ~bs[k] & 127;
        }
        for (int k = 0; k < 8; k++) {
            const int32_t gi = T->map[tc_iq3_code3(L[k])];
            q3[8 * ib + k] = (uint8_t)(gi < 0 ? 0 : gi);
        }
        const uint32_t ss = bs[0] | bs[1] << 7 | bs[2] << 14 | bs[3] << 21;
        for (int j = 0; j < 4; j++)
            q3[64 + 4 * ib + j] = (uint8_t)(ss >> 8 * j);
        scales[ib] = scale;
        max_scale = maxf_ggml(max_scale, scale);
    }
    tc_iq3_xxs_finish(scales, max_scale, q3, y);
}

TC_ISA_ATTR static void s_block(const tc_iq3_lists *T, const float *x, const float *qw, uint8_t *y)
{
    enum { QS = 2, QH = 66, SIGNS = 74 };
    float scales[8], w[32], wa[32], xval[32];
    float max_scale = 0;
    memset(y, 0, IQ3S_BYTES);
    uint8_t *qs = y + QS, *qh = y + QH, *signs = y + SIGNS;
    const float sigma2 = qw ? block_sigma2(x) : 0;
    for (int ib = 0; ib < 8; ib++) {
        unsigned bs[4];
        const float max =
            sub_prep(x + 32 * ib, qw ? qw + 32 * ib : NULL, sigma2, 0, w, wa, xval, bs);
        if (!max) { /* qs and signs are not advanced (ref_iq3_quant.c) */
            scales[ib] = 0;
            continue;
        }
        int L[8];
        float scale = sub_search(T, xval, w, wa, max, 0, L);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 4; k++)
                bs[k] = ~bs[k] & 255;
        }
        for (int k = 0; k < 8; k++) {
            int32_t gi = T->map[tc_iq3_code3(L[k])];
            gi = gi < 0 ? 0 : gi;
            qs[k] = (uint8_t)gi;
            qh[ib] |= (uint8_t)((gi >> 8) << k);
        }
        qs += 8;
        for (int k = 0; k < 4; k++)
            signs[k] = (uint8_t)bs[k];
        signs += 4;
        scales[ib] = scale;
        max_scale = maxf_ggml(max_scale, scale);
    }
    tc_iq3_s_finish(scales, max_scale, y);
}

/* ===== Row driver ===== */

/* The reference's row driver; blocks with Inf or NaN (in x or the weights) by the reference. */
TC_ISA_ATTR static void iq3q_rows(int xxs, const float *src, void *dst, int64_t n_rows,
                                  int64_t n_per_row, const float *imatrix)
{
    const int gsize = xxs ? 256 : 512;
    const size_t bsize = xxs ? IQ3XXS_BYTES : IQ3S_BYTES;
    const int64_t nb = n_per_row / QK_K;
    const tc_iq3_search *S = tc_iq3_search_get(gsize);
    const tc_iq3_lists *T = tc_iq3_lists_get(gsize);
    uint8_t *y = dst;
    if (S == NULL) { /* as the reference: zero blocks rather than a crash */
        memset(y, 0, (size_t)(n_rows * nb) * bsize);
        return;
    }
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < nb; i++, y += bsize) {
            const float *x = src + r * n_per_row + i * QK_K;
            const float *qw = imatrix ? imatrix + i * QK_K : NULL;
            if (T == NULL || !tc_all_finite(x, QK_K) || (qw && !tc_all_finite(qw, QK_K))) {
                if (xxs)
                    tc_ref_iq3_xxs_block(S, x, qw, y);
                else
                    tc_ref_iq3_s_block(S, x, qw, y);
            } else if (xxs) {
                xxs_block(T, x, qw, y);
            } else {
                s_block(T, x, qw, y);
            }
        }
}

/* the kernels the ISA files register (tc_quant_fn) */
TC_ISA_ATTR static void iq3_xxs_rows(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                     const float *imatrix)
{
    iq3q_rows(1, src, dst, n_rows, n_per_row, imatrix);
}

TC_ISA_ATTR static void iq3_s_rows(const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                                   const float *imatrix)
{
    iq3q_rows(0, src, dst, n_rows, n_per_row, imatrix);
}
