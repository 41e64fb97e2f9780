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

RUN = {fib = fib, loop = loop, sieve = sieve, nbody = nbody}
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

return {fib: fib, loop: loop, sieve: sieve, nbody: nbody};
})();
`

// tengoSrc ends with "out := @W@(n)": tengo runs a whole script, so the
// script is compiled once per workload and run once per iteration.
const tengoSrc = `
math := import("math")

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
