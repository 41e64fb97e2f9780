//go:build unix

package main

import (
	"os"
	"syscall"
)

// procsSupported: --procs pauses nodes with SIGSTOP and SIGCONT.
const procsSupported = true

func signalStop(p *os.Process) error { return p.Signal(syscall.SIGSTOP) }
func signalCont(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
