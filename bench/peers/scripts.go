package peers

import (
	"strconv"
	"strings"
)

// The workloads in each scripting language, written as a programmer of
// that language would, in the n-body twin's order of floating-point
// operations. @INIT@, @SOLAR@ and @DT@ are replaced by the n-body initial
// conditions (35 numbers, body-major: x, y, z, vx, vy, vz, mass), the
// solar mass and the time step, formatted to round-trip exactly.

const luaSrc = `
local sqrt = math.sqrt

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local function loop(n)
  local s = 0
  for i = 0, n - 1 do
    s = (s + i * i) % 1000003
  end
  return s
end

local function sieve(n)
  local composite = {}
  for i = 1, n do composite[i] = false end
  local count = 0
  for i = 2, n - 1 do
    if not composite[i] then
      count = count + 1
      for j = i * i, n - 1, i do composite[j] = true end
    end
  end
  return count
end

local INIT = {@INIT@}
local SOLAR, DT = @SOLAR@, @DT@

local function nbody(n)
  local bodies = {}
  for b = 0, 4 do
    local o = b * 7
    bodies[b + 1] = {x = INIT[o + 1], y = INIT[o + 2], z = INIT[o + 3],
      vx = INIT[o + 4], vy = INIT[o + 5], vz = INIT[o + 6], mass = INIT[o + 7]}
  end
  local px, py, pz = 0, 0, 0
  for i = 1, 5 do
    local b = bodies[i]
    px = px + b.vx * b.mass
    py = py + b.vy * b.mass
    pz = pz + b.vz * b.mass
  end
  local sun = bodies[1]
  sun.vx = -px / SOLAR
  sun.vy = -py / SOLAR
  sun.vz = -pz / SOLAR
  for step = 1, n do
    for i = 1, 5 do
      local bi = bodies[i]
      for j = i + 1, 5 do
        local bj = bodies[j]
        local dx = bi.x - bj.x
        local dy = bi.y - bj.y
        local dz = bi.z - bj.z
        local d2 = dx * dx + dy * dy + dz * dz
        local mag = DT / (d2 * sqrt(d2))
        local mj = bj.mass * mag
        bi.vx = bi.vx - dx * mj
        bi.vy = bi.vy - dy * mj
        bi.vz = bi.vz - dz * mj
        local mi = bi.mass * mag
        bj.vx = bj.vx + dx * mi
        bj.vy = bj.vy + dy * mi
        bj.vz = bj.vz + dz * mi
      end
    end
    for i = 1, 5 do
      local b = bodies[i]
      b.x = b.x + DT * b.vx
      b.y = b.y + DT * b.vy
      b.z = b.z + DT * b.vz
    end
  end
  local e = 0
  for i = 1, 5 do
    local bi = bodies[i]
    e = e + 0.5 * bi.mass * (bi.vx * bi.vx + bi.vy * bi.vy + bi.vz * bi.vz)
    for j = i + 1, 5 do
      local bj = bodies[j]
      local dx = bi.x - bj.x
      local dy = bi.y - bj.y
      local dz = bi.z - bj.z
      e = e - bi.mass * bj.mass / sqrt(dx * dx + dy * dy + dz * dz)
    end
  end
  return e
end

local function bottomUp(d)
  if d <= 0 then return {} end
  return {left = bottomUp(d - 1), right = bottomUp(d - 1)}
end

local function check(t)
  if t.left == nil then return 1 end
  return 1 + check(t.left) + check(t.right)
end

local function bintrees(n)
  local minD, maxD = 2, n
  local total = check(bottomUp(maxD + 1))
  local long = bottomUp(maxD)
  for d = minD, maxD, 2 do
    local chk = 0
    for i = 1, 2 ^ (maxD - d + minD) do chk = chk + check(bottomUp(d)) end
    total = total + chk
  end
  return total + check(long)
end

-- (s * 1103515245 + 12345) % 2^31, exact in doubles: the multiplier in
-- two halves keeps every product under 2^53.
local LCG_HI, LCG_LO = 16838, 20077
local function lcg(s)
  return ((s * LCG_HI % 32768) * 65536 + s * LCG_LO + 12345) % 2147483648
end

local SYL = {"ka", "to", "ri", "ne", "mo", "su", "la", "vi"}

local function wordfreq(n)
  local seed = 42
  local function nxt() seed = lcg(seed); return math.floor(seed / 256) end
  local counts = {}
  for i = 1, n do
    local k = 1 + nxt() % 3
    local w = ""
    for j = 1, k do w = w .. SYL[nxt() % 8 + 1] end
    counts[w] = (counts[w] or 0) + 1
  end
  local sum, distinct = 0, 0
  for w, c in pairs(counts) do
    distinct = distinct + 1
    sum = (sum + c * #w * #w) % 1000000007
  end
  return sum * 1000 + distinct
end

local function msort(xs, tmp, lo, hi, less)
  local n = hi - lo
  if n < 2 then return end
  local m = lo + math.floor(n / 2)
  msort(xs, tmp, lo, m, less)
  msort(xs, tmp, m, hi, less)
  local i, j, k = lo, m, lo
  while i < m and j < hi do
    if less(xs[j], xs[i]) then tmp[k] = xs[j]; j = j + 1 else tmp[k] = xs[i]; i = i + 1 end
    k = k + 1
  end
  while i < m do tmp[k] = xs[i]; i = i + 1; k = k + 1 end
  while j < hi do tmp[k] = xs[j]; j = j + 1; k = k + 1 end
  for p = lo, hi - 1 do xs[p] = tmp[p] end
end

local function closuresort(n)
  local xs, tmp = {}, {}
  local seed = 7
  for i = 1, n do seed = lcg(seed); xs[i] = math.floor(seed / 16); tmp[i] = 0 end
  local comparisons = 0
  local function less(a, b)
    comparisons = comparisons + 1
    local ka, kb = a % 1000, b % 1000
    if ka ~= kb then return ka < kb end
    return a < b
  end
  msort(xs, tmp, 1, n + 1, less)
  local sum = 0
  for i = 1, n do sum = (sum * 31 + xs[i] % 1000 + (i - 1)) % 1000000007 end
  return sum
end

local function bytebuild(n)
  -- table.concat in chunks: gopher-lua's registry holds a few tens of
  -- thousands of strings at a time.
  local chunks, parts = {}, {}
  for i = 0, n - 1 do
    parts[#parts + 1] = tostring(i * 7919 % 100003)
    if i % 10 == 9 then parts[#parts + 1] = "; next\n" else parts[#parts + 1] = "," end
    if #parts >= 1000 then
      chunks[#chunks + 1] = table.concat(parts)
      parts = {}
    end
  end
  chunks[#chunks + 1] = table.concat(parts)
  local s = table.concat(chunks)
  local h = 0
  for k = 1, #s do h = (h * 131 + string.byte(s, k)) % 1000000007 end
  return #s * 1000 + h % 1000
end

RUN = {fib = fib, loop = loop, sieve = sieve, nbody = nbody,
  bintrees = bintrees, wordfreq = wordfreq, closuresort = closuresort, bytebuild = bytebuild}
`

// jsSrc keeps its functions in a closure, as a bundler or an ES module
// would: goja resolves a closure's bindings faster than the global
// object's properties (about 20% on fib).
const jsSrc = `
"use strict";
var RUN = (function () {
function fib(n) {
  if (n < 2) return n;
  return fib(n - 1) + fib(n - 2);
}

function loop(n) {
  let s = 0;
  for (let i = 0; i < n; i++) {
    s = (s + i * i) % 1000003;
  }
  return s;
}

function sieve(n) {
  const composite = new Uint8Array(n);
  let count = 0;
  for (let i = 2; i < n; i++) {
    if (composite[i] === 0) {
      count++;
      for (let j = i * i; j < n; j += i) composite[j] = 1;
    }
  }
  return count;
}

const INIT = [@INIT@];
const SOLAR = @SOLAR@, DT = @DT@;

function nbody(n) {
  const bodies = [];
  for (let o = 0; o < 35; o += 7) {
    bodies.push({x: INIT[o], y: INIT[o + 1], z: INIT[o + 2],
      vx: INIT[o + 3], vy: INIT[o + 4], vz: INIT[o + 5], mass: INIT[o + 6]});
  }
  let px = 0, py = 0, pz = 0;
  for (const b of bodies) {
    px += b.vx * b.mass;
    py += b.vy * b.mass;
    pz += b.vz * b.mass;
  }
  bodies[0].vx = -px / SOLAR;
  bodies[0].vy = -py / SOLAR;
  bodies[0].vz = -pz / SOLAR;
  const nb = bodies.length;
  for (let step = 0; step < n; step++) {
    for (let i = 0; i < nb; i++) {
      const bi = bodies[i];
      for (let j = i + 1; j < nb; j++) {
        const bj = bodies[j];
        const dx = bi.x - bj.x;
        const dy = bi.y - bj.y;
        const dz = bi.z - bj.z;
        const d2 = dx * dx + dy * dy + dz * dz;
        const mag = DT / (d2 * Math.sqrt(d2));
        const mj = bj.mass * mag;
        bi.vx -= dx * mj;
        bi.vy -= dy * mj;
        bi.vz -= dz * mj;
        const mi = bi.mass * mag;
        bj.vx += dx * mi;
        bj.vy += dy * mi;
        bj.vz += dz * mi;
      }
    }
    for (let i = 0; i < nb; i++) {
      const b = bodies[i];
      b.x += DT * b.vx;
      b.y += DT * b.vy;
      b.z += DT * b.vz;
    }
  }
  let e = 0;
  for (let i = 0; i < nb; i++) {
    const bi = bodies[i];
    e += 0.5 * bi.mass * (bi.vx * bi.vx + bi.vy * bi.vy + bi.vz * bi.vz);
    for (let j = i + 1; j < nb; j++) {
      const bj = bodies[j];
      const dx = bi.x - bj.x;
      const dy = bi.y - bj.y;
      const dz = bi.z - bj.z;
      e -= bi.mass * bj.mass / Math.sqrt(dx * dx + dy * dy + dz * dz);
    }
  }
  return e;
}

function bottomUp(d) {
  if (d <= 0) return {left: null, right: null};
  return {left: bottomUp(d - 1), right: bottomUp(d - 1)};
}

function check(t) {
  if (t.left === null) return 1;
  return 1 + check(t.left) + check(t.right);
}

function bintrees(n) {
  const minD = 2, maxD = n;
  let total = check(bottomUp(maxD + 1));
  const long = bottomUp(maxD);
  for (let d = minD; d <= maxD; d += 2) {
    const iters = 1 << (maxD - d + minD);
    let chk = 0;
    for (let i = 0; i < iters; i++) chk += check(bottomUp(d));
    total += chk;
  }
  return total + check(long);
}

// (s * 1103515245 + 12345) % 2^31 in 32-bit arithmetic.
function lcg(s) { return (Math.imul(s, 1103515245) + 12345) & 0x7fffffff; }

const SYL = ["ka", "to", "ri", "ne", "mo", "su", "la", "vi"];

function wordfreq(n) {
  let seed = 42;
  const next = () => { seed = lcg(seed); return seed >> 8; };
  const counts = new Map();
  for (let i = 0; i < n; i++) {
    const k = 1 + next() % 3;
    let w = "";
    for (let j = 0; j < k; j++) w += SYL[next() % 8];
    counts.set(w, (counts.get(w) || 0) + 1);
  }
  let sum = 0;
  for (const [w, c] of counts) sum = (sum + c * w.length * w.length) % 1000000007;
  return sum * 1000 + counts.size;
}

function msort(xs, tmp, lo, hi, less) {
  const n = hi - lo;
  if (n < 2) return;
  const m = lo + (n >> 1);
  msort(xs, tmp, lo, m, less);
  msort(xs, tmp, m, hi, less);
  let i = lo, j = m, k = lo;
  while (i < m && j < hi) {
    if (less(xs[j], xs[i])) tmp[k++] = xs[j++];
    else tmp[k++] = xs[i++];
  }
  while (i < m) tmp[k++] = xs[i++];
  while (j < hi) tmp[k++] = xs[j++];
  for (let p = lo; p < hi; p++) xs[p] = tmp[p];
}

function closuresort(n) {
  const xs = new Array(n), tmp = new Array(n).fill(0);
  let seed = 7;
  for (let i = 0; i < n; i++) { seed = lcg(seed); xs[i] = seed >> 4; }
  let comparisons = 0;
  const less = (a, b) => {
    comparisons++;
    const ka = a % 1000, kb = b % 1000;
    if (ka !== kb) return ka < kb;
    return a < b;
  };
  msort(xs, tmp, 0, n, less);
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum * 31 + xs[i] % 1000 + i) % 1000000007;
  return sum;
}

function bytebuild(n) {
  const parts = [];
  for (let i = 0; i < n; i++) {
    parts.push(String(i * 7919 % 100003));
    parts.push(i % 10 === 9 ? "; next\n" : ",");
  }
  const s = parts.join("");
  let h = 0;
  for (let k = 0; k < s.length; k++) h = (h * 131 + s.charCodeAt(k)) % 1000000007;
  return s.length * 1000 + h % 1000;
}

return {fib: fib, loop: loop, sieve: sieve, nbody: nbody,
  bintrees: bintrees, wordfreq: wordfreq, closuresort: closuresort, bytebuild: bytebuild};
})();
`

// tengoSrc ends with "out := @W@(n)": tengo runs a whole script, so the
// script is compiled once per workload and run once per iteration.
const tengoSrc = `
math := import("math")
text := import("text")

fib := func(n) {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}

loop := func(n) {
  s := 0
  for i := 0; i < n; i++ {
    s = (s + i * i) % 1000003
  }
  return s
}

sieve := func(n) {
  composite := []
  for i := 0; i < n; i++ { composite = append(composite, false) }
  count := 0
  for i := 2; i < n; i++ {
    if !composite[i] {
      count++
      for j := i * i; j < n; j += i { composite[j] = true }
    }
  }
  return count
}

INIT := [@INIT@]
SOLAR := @SOLAR@
DT := @DT@

nbody := func(n) {
  bodies := []
  for o := 0; o < 35; o += 7 {
    bodies = append(bodies, {x: INIT[o], y: INIT[o + 1], z: INIT[o + 2],
      vx: INIT[o + 3], vy: INIT[o + 4], vz: INIT[o + 5], mass: INIT[o + 6]})
  }
  px := 0.0
  py := 0.0
  pz := 0.0
  for b in bodies {
    px += b.vx * b.mass
    py += b.vy * b.mass
    pz += b.vz * b.mass
  }
  bodies[0].vx = -px / SOLAR
  bodies[0].vy = -py / SOLAR
  bodies[0].vz = -pz / SOLAR
  nb := len(bodies)
  for step := 0; step < n; step++ {
    for i := 0; i < nb; i++ {
      bi := bodies[i]
      for j := i + 1; j < nb; j++ {
        bj := bodies[j]
        dx := bi.x - bj.x
        dy := bi.y - bj.y
        dz := bi.z - bj.z
        d2 := dx * dx + dy * dy + dz * dz
        mag := DT / (d2 * math.sqrt(d2))
        mj := bj.mass * mag
        bi.vx -= dx * mj
        bi.vy -= dy * mj
        bi.vz -= dz * mj
        mi := bi.mass * mag
        bj.vx += dx * mi
        bj.vy += dy * mi
        bj.vz += dz * mi
      }
    }
    for i := 0; i < nb; i++ {
      b := bodies[i]
      b.x += DT * b.vx
      b.y += DT * b.vy
      b.z += DT * b.vz
    }
  }
  e := 0.0
  for i := 0; i < nb; i++ {
    bi := bodies[i]
    e += 0.5 * bi.mass * (bi.vx * bi.vx + bi.vy * bi.vy + bi.vz * bi.vz)
    for j := i + 1; j < nb; j++ {
      bj := bodies[j]
      dx := bi.x - bj.x
      dy := bi.y - bj.y
      dz := bi.z - bj.z
      e -= bi.mass * bj.mass / math.sqrt(dx * dx + dy * dy + dz * dz)
    }
  }
  return e
}

bottomUp := func(d) {
  if d <= 0 { return {} }
  return {left: bottomUp(d - 1), right: bottomUp(d - 1)}
}

check := func(t) {
  if is_undefined(t.left) { return 1 }
  return 1 + check(t.left) + check(t.right)
}

bintrees := func(n) {
  minD := 2
  maxD := n
  total := check(bottomUp(maxD + 1))
  long := bottomUp(maxD)
  for d := minD; d <= maxD; d += 2 {
    iters := 1 << (maxD - d + minD)
    chk := 0
    for i := 0; i < iters; i++ { chk += check(bottomUp(d)) }
    total += chk
  }
  return total + check(long)
}

SYL := ["ka", "to", "ri", "ne", "mo", "su", "la", "vi"]

wordfreq := func(n) {
  seed := 42
  next := func() {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed >> 8
  }
  counts := {}
  for i := 0; i < n; i++ {
    k := 1 + next() % 3
    w := ""
    for j := 0; j < k; j++ { w += SYL[next() % 8] }
    c := counts[w]
    if is_undefined(c) { c = 0 }
    counts[w] = c + 1
  }
  sum := 0
  for w, c in counts { sum = (sum + c * len(w) * len(w)) % 1000000007 }
  return sum * 1000 + len(counts)
}

msort := func(xs, tmp, lo, hi, less) {
  n := hi - lo
  if n < 2 { return }
  m := lo + n / 2
  msort(xs, tmp, lo, m, less)
  msort(xs, tmp, m, hi, less)
  i := lo
  j := m
  k := lo
  for i < m && j < hi {
    if less(xs[j], xs[i]) {
      tmp[k] = xs[j]
      j++
    } else {
      tmp[k] = xs[i]
      i++
    }
    k++
  }
  for i < m { tmp[k] = xs[i]; i++; k++ }
  for j < hi { tmp[k] = xs[j]; j++; k++ }
  for p := lo; p < hi; p++ { xs[p] = tmp[p] }
}

closuresort := func(n) {
  xs := []
  tmp := []
  seed := 7
  for i := 0; i < n; i++ {
    seed = (seed * 1103515245 + 12345) % 2147483648
    xs = append(xs, seed >> 4)
    tmp = append(tmp, 0)
  }
  comparisons := 0
  less := func(a, b) {
    comparisons++
    ka := a % 1000
    kb := b % 1000
    if ka != kb { return ka < kb }
    return a < b
  }
  msort(xs, tmp, 0, n, less)
  sum := 0
  for i := 0; i < n; i++ { sum = (sum * 31 + xs[i] % 1000 + i) % 1000000007 }
  return sum
}

bytebuild := func(n) {
  parts := []
  for i := 0; i < n; i++ {
    parts = append(parts, string(i * 7919 % 100003))
    if i % 10 == 9 { parts = append(parts, "; next\n") } else { parts = append(parts, ",") }
  }
  s := text.join(parts, "")
  h := 0
  for c in bytes(s) { h = (h * 131 + c) % 1000000007 }
  return len(s) * 1000 + h % 1000
}

out := @W@(n)
`

func fmtFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") { // keep it a float literal ("0" -> "0.0")
		s += ".0"
	}
	return s
}

// script fills in a script template's n-body constants.
func script(src string) string {
	var init []string
	for _, v := range nbodyInitFlat() {
		init = append(init, fmtFloat(v))
	}
	return strings.NewReplacer(
		"@INIT@", strings.Join(init, ", "),
		"@SOLAR@", fmtFloat(solarMass()),
		"@DT@", fmtFloat(nbodyDt),
	).Replace(src)
}
