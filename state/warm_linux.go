package state

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// memoryAvailable is the memory the page cache may use without pushing out what others need: the kernel's
// MemAvailable, or less where the process's control group (v2, else v1) limits its memory, page cache
// included, to less.
func memoryAvailable() (int64, bool) {
	return memoryAvailableIn("/proc/meminfo", "/sys/fs/cgroup", "/proc/self/cgroup")
}

func memoryAvailableIn(meminfo, cgroupRoot, selfCgroup string) (int64, bool) {
	avail, ok := memAvailable(meminfo)
	if !ok {
		return 0, false
	}
	if limit, used, ok := cgroupMemory(cgroupRoot, selfCgroup); ok && limit-used < avail {
		avail = max(limit-used, 0)
	}
	return avail, true
}

// memAvailable reads MemAvailable (kB) from a /proc/meminfo.
func memAvailable(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !found {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		return kb * 1024, err == nil
	}
	return 0, false
}

// cgroupMemory returns the memory limit and usage of the process's control group: cgroup v2's memory.max and
// memory.current, or v1's memory.limit_in_bytes and memory.usage_in_bytes. No limit ("max", or v1's huge
// number) or no control group reads as not found.
func cgroupMemory(root, selfCgroup string) (limit, used int64, ok bool) {
	data, err := os.ReadFile(selfCgroup)
	if err != nil {
		return 0, 0, false
	}
	for line := range bytes.Lines(data) {
		// v2: "0::/path"; v1: "N:memory:/path" (or a list of controllers that includes memory).
		parts := strings.SplitN(strings.TrimSpace(string(line)), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var limitFile, usageFile string
		switch {
		case parts[0] == "0" && parts[1] == "":
			limitFile = filepath.Join(root, parts[2], "memory.max")
			usageFile = filepath.Join(root, parts[2], "memory.current")
		case hasController(parts[1], "memory"):
			limitFile = filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes")
			usageFile = filepath.Join(root, "memory", parts[2], "memory.usage_in_bytes")
		default:
			continue
		}
		limit, lok := readBytes(limitFile)
		used, uok := readBytes(usageFile)
		// v1 writes "no limit" as a number near 2^63.
		if lok && uok && limit < 1<<60 {
			return limit, used, true
		}
	}
	return 0, 0, false
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readBytes reads a control-group file holding one number of bytes; "max" (no limit) reads as not found.
func readBytes(path string) (int64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil
}

// residentFraction is the share of the file's pages that are in the page cache (mincore over a mapping that
// is never touched, so it adds nothing to the process's memory).
func residentFraction(f *os.File, size int64) (float64, bool) {
	if size <= 0 || size > math.MaxInt { // a mapping's length is an int
		return 0, false
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return 0, false
	}
	defer func() { _ = syscall.Munmap(data) }()
	page := int64(os.Getpagesize())
	vec := make([]byte, (size+page-1)/page)
	_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return 0, false
	}
	resident := 0
	for _, v := range vec {
		resident += int(v & 1)
	}
	return float64(resident) / float64(len(vec)), true
}
