package sip

import (
	"net"
	"syscall"
)

// socketBuffer is the size of the socket's buffer opt (SO_RCVBUF or
// SO_SNDBUF) as it was asked for: Linux reports twice the size set, the
// other half being its bookkeeping (socket(7)).
func socketBuffer(c *net.UDPConn, opt int) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var size int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		size, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt)
	}); err != nil {
		return 0, err
	}
	return size / 2, serr
}
