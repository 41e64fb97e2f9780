package main

import "syscall"

// childAttr puts a node process in a process group of its own (a ^C at
// the terminal reaches the coordinator alone, which takes the children
// down in order) and has the kernel kill it if the coordinator dies
// without doing so. It also sees its stdin close then (see runMember).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
