//go:build unix && !linux

package main

import "syscall"

// childAttr puts a node process in a process group of its own (a ^C at
// the terminal reaches the coordinator alone, which takes the children
// down in order). A child sees its stdin close if the coordinator dies
// (see runMember).
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
