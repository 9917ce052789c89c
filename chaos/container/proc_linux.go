package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// processOf checks that pid, as this machine sees it, is the main process
// of the container with ID id: its cgroup names the container.
func processOf(pid int, id string) error {
	if pid <= 0 {
		return fmt.Errorf("no process (pid %d)", pid)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	if !strings.Contains(string(b), id) {
		return fmt.Errorf("process %d is not in the container's cgroup", pid)
	}
	return nil
}

// signalProcess sends signal sig to pid.
func signalProcess(pid, sig int) error {
	if err := syscall.Kill(pid, syscall.Signal(sig)); err != nil {
		return fmt.Errorf("signal %d to process %d: %w", sig, pid, err)
	}
	return nil
}
