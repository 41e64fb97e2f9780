//go:build !unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// procsSupported: --procs pauses nodes with SIGSTOP and SIGCONT, which
// this system does not have.
const procsSupported = false

var errNoSignals = errors.New("no SIGSTOP and SIGCONT on this system")

func signalStop(*os.Process) error { return errNoSignals }
func signalCont(*os.Process) error { return errNoSignals }

func childAttr() *syscall.SysProcAttr { return nil }
