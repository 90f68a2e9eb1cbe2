package sqlite

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Blobs are stored compressed when that pays: a 5 KB text mail shrinks to
// a fraction, and keeps its row off an overflow page; attachments that are
// compressed already (images, archives, PDF) stay as they are. PostgreSQL
// does the same on the server (lz4 TOAST, migration 006 there).
const (
	// compressFrom is the smallest blob worth compressing: below it the
	// row fits its page either way.
	compressFrom = 512
	// encodingZstd marks a blob stored as one zstd frame.
	encodingZstd = "zstd"
)

// blobCodec compresses blobs before they reach the writer (in the caller's
// goroutine: the single writer must not spend its time on it) and
// decompresses them on read. Both sides are safe for concurrent use.
type blobCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newBlobCodec() (*blobCodec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("blob encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderLowmem(true))
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("blob decoder: %w", err)
	}
	return &blobCodec{enc: enc, dec: dec}, nil
}

// storedBlob is a blob as stored: data in encoding.
type storedBlob struct {
	data     []byte
	encoding string
}

// pack returns data as it is to be stored: compressed when that saves at
// least an eighth.
func (c *blobCodec) pack(data []byte) storedBlob {
	if len(data) < compressFrom {
		return storedBlob{data: data}
	}
	z := c.enc.EncodeAll(data, make([]byte, 0, len(data)/2))
	if len(z) > len(data)-len(data)/8 {
		return storedBlob{data: data}
	}
	return storedBlob{data: z, encoding: encodingZstd}
}

// unpack returns a stored blob's original bytes; size is their length.
func (c *blobCodec) unpack(data []byte, encoding string, size int) ([]byte, error) {
	switch encoding {
	case "":
		return data, nil
	case encodingZstd:
		out, err := c.dec.DecodeAll(data, make([]byte, 0, size))
		if err != nil {
			return nil, fmt.Errorf("decompress blob: %w", err)
		}
		if len(out) != size {
			return nil, fmt.Errorf("decompress blob: %d bytes, want %d", len(out), size)
		}
		return out, nil
	}
	return nil, fmt.Errorf("blob stored in unknown encoding %q", encoding)
}

func (c *blobCodec) close() {
	c.enc.Close()
	c.dec.Close()
}
