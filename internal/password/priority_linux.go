package password

import "golang.org/x/sys/unix"

// hashNice is the nice value of the threads that hash. On Linux it is a
// per-thread attribute (setpriority(2), NOTES). Raising it needs no
// privilege; lowering it again would, which is why a worker's thread ends
// with the worker instead of going back to the runtime.
const hashNice = 5

// lowerPriority gives the calling thread hashNice, unless it is already
// nicer. It fails silently: hashing at normal priority still works.
func lowerPriority() {
	tid := unix.Gettid()
	if current, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && 20-current >= hashNice {
		return // getpriority returns 20 - nice
	}
	_ = unix.Setpriority(unix.PRIO_PROCESS, tid, hashNice)
}
