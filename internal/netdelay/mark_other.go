//go:build !linux

package netdelay

import (
	"errors"
	"syscall"
)

func markControl(mark int) func(network, address string, c syscall.RawConn) error {
	if mark == 0 {
		return nil
	}
	return func(string, string, syscall.RawConn) error {
		return errors.New("netdelay: a socket mark needs Linux")
	}
}
