//go:build !linux

package cluster

import "time"

func threadCPUTime() time.Duration { return 0 }

const haveThreadCPUTime = false

func processCPUTime() time.Duration { return 0 }
