// Package durable writes files that survive a crash: the data is on disk
// before the write returns, and a replaced file holds either the old or the
// new content, never a part of each. The call journal, the fax inbox and
// the admin token use it.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with data: a temporary file beside it is written
// and fsync'd, renamed over path, and the directory fsync'd.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// SyncDir makes the entries of dir durable: files created, renamed into or
// removed from it.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
