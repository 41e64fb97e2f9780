package cluster

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUTime is the calling thread's CPU clock. The caller locks itself
// to its thread.
func threadCPUTime() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

const haveThreadCPUTime = true // and processCPUTime

// processCPUTime is the process's CPU clock: every thread, user and system.
func processCPUTime() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
