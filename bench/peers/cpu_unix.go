//go:build unix

package peers

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user + system) used so far by the whole
// process, every thread included, so that a run's garbage collection on
// other threads counts and time taken by other processes does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
