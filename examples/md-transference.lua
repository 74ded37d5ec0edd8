-- md-transference.lua: why the transference number t+ from an MD run can
-- differ from the "apparent" one t_app+ = D+/(D+ + D-) that pulsed-field-
-- gradient NMR measures (the paper: t_app+ = 0.17-0.20, t+ = 0.12-0.13 for
-- PEO-LiTFSI at r = 0.1).
--
--   ionflow examples/md-transference.lua
--
-- Self-diffusion follows each ion alone. Current is carried by the sum of
-- all ionic displacements weighted by charge, and its fluctuations contain
-- cross terms: with the summed displacements dX+ and dX- of all cations
-- and anions, the Onsager coefficients are
--     L_ij = lim <dX_i(t) . dX_j(t)> / (6 V kB T t),
-- and under anion-blocking conditions (Wohde-Roling, z = +1/-1)
--     t+ = (L++ - L+-) / (L++ + L-- - 2 L+-).
-- Without correlations between different ions L++ = N D+/(V kB T),
-- L-- = N D-/(V kB T), L+- = 0, and t+ = t_app+.
--
-- Here cations and anions are random walkers (D+ = 1e-10 m^2/s,
-- D- = 3e-10 m^2/s, so t_app+ = 0.25). Pair k of cation and anion shares
-- a random step of diffusion coefficient Dc, taken by the anion with sign s:
--   s = +1: the pair moves together (an ion pair or a cluster): it
--           carries mass but no charge, L+- > 0, and as D- > D+ here,
--           t+ < t_app+;
--   s = -1: cation and anion move against each other: L+- < 0, t+ > t_app+.
-- Exactly: t+ = (D+ - s Dc) / (D+ + D- - 2 s Dc).
local N, frames = 100, 6000
local Dp, Dm = 1e-10, 3e-10

print("  s   Dc/D+   t_app+ (NMR-like)   t+ (Onsager)      t+ exact   sigma/sigma_NE")
for _, case in ipairs{{0, 0}, {1, 0.3}, {1, 0.6}, {-1, 0.6}} do
  local s, f = case[1], case[2]
  local traj = md.synthetic{ncat = N, nan = N, frames = frames, dt = 1e-12,
    box = 4e-9, D_cat = Dp, D_an = Dm, D_common = f * Dp,
    s_common = s ~= 0 and s or 1, seed = 11}
  -- lab frame: the walkers have no momentum conservation to respect; the
  -- summed displacements are single random walks, so fit short lags
  local r = md.transport(traj, {cation = 1, anion = 2, frame = "lab",
    temperature = 363, blocks = 12, fit = {1e-12, 16e-12}})
  local Dc = f * Dp
  local exact = (Dp - s * Dc) / (Dp + Dm - 2 * s * Dc)
  print(string.format("%+3d   %4.1f    %.3f +- %.3f     %.3f +- %.3f    %.3f       %.2f",
    s, f, r.t_app, r.t_app_err, r.t_plus, r.t_plus_err, exact, r.ionicity))
end
print([[
t_app+ does not change: self-diffusion cannot see who moves with whom.
With D- > D+, cation-anion pairs moving together (s = +1, L+- > 0) lower t+
and the ionicity below 1; motion against each other (s = -1) raises them.
In a real electrolyte the distinct cation-cation and anion-anion terms
(L_pp_distinct, L_mm_distinct) enter too, and in the barycentric frame
momentum conservation ties all of them together: the paper's t+ < t_app+
is the net effect. scripts/md-transport.lua prints every term for a
trajectory.]])

-- Pair dynamics (the paper's Figure 5c): start each anion 0.3 nm from its
-- cation and follow the pairs. corr is the correlation of the cation's and
-- the nearby anions' displacements: + for pairs moving as one, - for
-- motion against each other; same_nearest the chance that a cation still
-- has the same nearest anion after the lag.
print("\n  s   corr(10 ps)   exact    P(same nearest anion, 10 ps)")
for _, s in ipairs{1, -1} do
  local traj = md.synthetic{ncat = 40, nan = 40, frames = 1500, dt = 1e-12,
    box = 100e-9, D_cat = Dp, D_an = Dm, D_common = 0.6 * Dp, s_common = s,
    pair_dist = 0.3e-9, seed = 5}
  local p = md.pairs(traj, {cation = 1, anion = 2, cutoff = 0.5e-9, max_lag = 10})
  print(string.format("%+3d   %8.3f    %7.3f    %.3f", s, p.corr[11],
    s * 0.6 * Dp / math.sqrt(Dp * Dm), p.same_nearest[11]))
end
