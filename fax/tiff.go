// Package fax is Hotline's fax channel: it reads received faxes (TIFF from
// Asterisk's ReceiveFAX or HylaFAX, TIFF or PDF from fax providers' mail),
// turns them into PDF without decoding the CCITT data, and makes each one a
// ticket with a fax-to-mail message to the desk and the agent on duty.
package fax

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors that say why a file is not a fax this package can read. They end
// up, with detail, in the failed/ reason file and on the ticket.
var (
	ErrEmpty       = errors.New("the file is empty")
	ErrNotTIFF     = errors.New("not a TIFF file")
	ErrTruncated   = errors.New("the file is truncated or damaged")
	ErrTooLarge    = errors.New("the fax is too large")
	ErrUnsupported = errors.New("unsupported TIFF")
)

// TIFF compression schemes (tag 259).
const (
	CompressionNone     = 1
	CompressionCCITTRLE = 2 // Modified Huffman, rows byte-aligned, no EOL
	CompressionG3       = 3 // T.4: 1-D or 2-D, per T4Options
	CompressionG4       = 4 // T.6
	CompressionLZW      = 5
	CompressionOldJPEG  = 6
	CompressionJPEG     = 7
	CompressionDeflate  = 8
	CompressionPackBits = 32773
	CompressionDeflate2 = 32946 // the old code for Deflate
)

// Limits bound what a TIFF may ask of the reader, so that a hostile or
// broken file (a 10,000-page bomb, a strip table pointing past the end)
// fails with a reason instead of eating memory.
type Limits struct {
	MaxPages  int
	MaxWidth  int
	MaxHeight int
	// MaxStrips bounds the strips of one page.
	MaxStrips int
	// MaxDecoded bounds the bytes the decoding fallback may produce for
	// one file, all pages together: a small Deflate or LZW strip can
	// claim a page of hundreds of megabytes.
	MaxDecoded int64
}

// DefaultLimits fit any real fax: the longest faxes are a few hundred
// pages; the widest (A3, ultra fine) are 4864 pixels; a continuous-paper
// page at 400 dpi a few metres long.
var DefaultLimits = Limits{MaxPages: 1000, MaxWidth: 1 << 14, MaxHeight: 1 << 17, MaxStrips: 1 << 17, MaxDecoded: 256 << 20}

// Page is one image of a TIFF (one IFD), as the PDF writer needs it. Strips
// are slices of the file's bytes, not copies.
type Page struct {
	Width, Height int
	// XRes and YRes are in dots per inch; 0 when the file does not say.
	XRes, YRes      float64
	Compression     int
	Photometric     int
	FillOrder       int // 1 MSB first (the default), 2 LSB first
	BitsPerSample   int
	SamplesPerPixel int
	PlanarConfig    int
	Predictor       int
	RowsPerStrip    int
	T4Options       uint32
	T6Options       uint32
	ColorMap        []uint16
	JPEGTables      []byte
	Strips          [][]byte
}

// TIFF is a parsed TIFF file: its pages in file order.
type TIFF struct {
	Pages []Page
}

// IsTIFF reports whether data starts like a classic TIFF.
func IsTIFF(data []byte) bool {
	return len(data) >= 4 && (string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*")
}

// ReadTIFF parses the structure of a TIFF held in memory: every IFD, with
// the strips of each page located and bounds-checked. It decodes no image
// data. It never panics on bad input; errors wrap the Err* values above.
func ReadTIFF(data []byte, lim Limits) (*TIFF, error) {
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotTIFF, len(data))
	}
	var bo binary.ByteOrder
	switch string(data[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: it starts with %q", ErrNotTIFF, data[:min(len(data), 4)])
	}
	switch v := bo.Uint16(data[2:]); v {
	case 42:
	case 43:
		return nil, fmt.Errorf("%w: BigTIFF", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: version %d", ErrNotTIFF, v)
	}
	r := &tiffReader{data: data, bo: bo, lim: lim}
	off := int64(bo.Uint32(data[4:]))
	seen := map[int64]bool{}
	t := &TIFF{}
	for off != 0 {
		if seen[off] {
			return nil, fmt.Errorf("%w: the page chain loops back to offset %d", ErrTruncated, off)
		}
		seen[off] = true
		if lim.MaxPages > 0 && len(t.Pages) >= lim.MaxPages {
			return nil, fmt.Errorf("%w: more than %d pages", ErrTooLarge, lim.MaxPages)
		}
		p, next, err := r.page(off)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", len(t.Pages)+1, err)
		}
		t.Pages = append(t.Pages, p)
		off = next
	}
	if len(t.Pages) == 0 {
		return nil, fmt.Errorf("%w: no pages", ErrTruncated)
	}
	return t, nil
}

type tiffReader struct {
	data []byte
	bo   binary.ByteOrder
	lim  Limits
}

// TIFF field types and their sizes in bytes.
var typeSize = [...]int{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}

type field struct {
	typ   int
	count int
	raw   []byte // count × typeSize bytes
}

// TIFF tags the reader uses.
const (
	tagWidth           = 256
	tagHeight          = 257
	tagBitsPerSample   = 258
	tagCompression     = 259
	tagPhotometric     = 262
	tagFillOrder       = 266
	tagStripOffsets    = 273
	tagSamplesPerPixel = 277
	tagRowsPerStrip    = 278
	tagStripByteCounts = 279
	tagXResolution     = 282
	tagYResolution     = 283
	tagPlanarConfig    = 284
	tagT4Options       = 292
	tagT6Options       = 293
	tagResolutionUnit  = 296
	tagPredictor       = 317
	tagColorMap        = 320
	tagTileWidth       = 322
	tagJPEGTables      = 347
)

func (r *tiffReader) page(off int64) (Page, int64, error) {
	d := r.data
	if off < 8 || off+2 > int64(len(d)) {
		return Page{}, 0, fmt.Errorf("%w: directory offset %d outside the file", ErrTruncated, off)
	}
	n := int64(r.bo.Uint16(d[off:]))
	end := off + 2 + 12*n
	if end+4 > int64(len(d)) {
		return Page{}, 0, fmt.Errorf("%w: directory at %d runs past the end", ErrTruncated, off)
	}
	fields := make(map[int]field, n)
	for i := int64(0); i < n; i++ {
		e := d[off+2+12*i:]
		tag, typ, count := int(r.bo.Uint16(e)), int(r.bo.Uint16(e[2:])), int64(r.bo.Uint32(e[4:]))
		if typ <= 0 || typ >= len(typeSize) {
			continue // unknown types are skipped, as TIFF 6.0 asks
		}
		size := count * int64(typeSize[typ])
		var raw []byte
		if size <= 4 {
			raw = e[8 : 8+size]
		} else {
			vo := int64(r.bo.Uint32(e[8:]))
			if vo+size > int64(len(d)) || size > int64(len(d)) {
				if _, needed := neededTags[tag]; needed {
					return Page{}, 0, fmt.Errorf("%w: tag %d points past the end", ErrTruncated, tag)
				}
				continue
			}
			raw = d[vo : vo+size]
		}
		fields[tag] = field{typ: typ, count: int(count), raw: raw}
	}
	next := int64(r.bo.Uint32(d[end:]))

	p := Page{Compression: 1, Photometric: -1, FillOrder: 1, BitsPerSample: 1, SamplesPerPixel: 1, PlanarConfig: 1, Predictor: 1}
	var err error
	get := func(tag, def int) int {
		if err != nil {
			return def
		}
		f, ok := fields[tag]
		if !ok || f.count == 0 {
			return def
		}
		var v uint64
		v, err = r.uint(f, 0)
		if err == nil && v > math.MaxInt32 {
			err = fmt.Errorf("%w: tag %d value %d", ErrUnsupported, tag, v)
		}
		return int(v)
	}
	p.Width = get(tagWidth, 0)
	p.Height = get(tagHeight, 0)
	p.Compression = get(tagCompression, 1)
	p.Photometric = get(tagPhotometric, -1)
	p.FillOrder = get(tagFillOrder, 1)
	p.BitsPerSample = get(tagBitsPerSample, 1)
	p.SamplesPerPixel = get(tagSamplesPerPixel, 1)
	p.PlanarConfig = get(tagPlanarConfig, 1)
	p.Predictor = get(tagPredictor, 1)
	p.RowsPerStrip = get(tagRowsPerStrip, math.MaxInt32)
	p.T4Options = uint32(get(tagT4Options, 0))
	p.T6Options = uint32(get(tagT6Options, 0))
	unit := get(tagResolutionUnit, 2)
	if err != nil {
		return Page{}, 0, err
	}
	switch {
	case p.Width <= 0 || p.Height <= 0:
		return Page{}, 0, fmt.Errorf("%w: no image size (%d×%d)", ErrTruncated, p.Width, p.Height)
	case r.lim.MaxWidth > 0 && p.Width > r.lim.MaxWidth, r.lim.MaxHeight > 0 && p.Height > r.lim.MaxHeight:
		return Page{}, 0, fmt.Errorf("%w: %d×%d pixels", ErrTooLarge, p.Width, p.Height)
	case p.FillOrder != 1 && p.FillOrder != 2:
		return Page{}, 0, fmt.Errorf("%w: FillOrder %d", ErrUnsupported, p.FillOrder)
	case p.SamplesPerPixel < 1 || p.SamplesPerPixel > 8, p.BitsPerSample < 1 || p.BitsPerSample > 16:
		return Page{}, 0, fmt.Errorf("%w: %d samples of %d bits", ErrUnsupported, p.SamplesPerPixel, p.BitsPerSample)
	}
	if _, tiled := fields[tagTileWidth]; tiled {
		return Page{}, 0, fmt.Errorf("%w: tiled images", ErrUnsupported)
	}
	if p.RowsPerStrip <= 0 || p.RowsPerStrip > p.Height {
		p.RowsPerStrip = p.Height
	}
	p.XRes, p.YRes = r.rational(fields[tagXResolution]), r.rational(fields[tagYResolution])
	switch unit {
	case 3: // centimetres
		p.XRes, p.YRes = p.XRes*2.54, p.YRes*2.54
	case 1: // no absolute unit: only the aspect ratio is known
		if p.XRes > 0 && p.YRes > 0 {
			p.XRes, p.YRes = 204, 204*p.YRes/p.XRes
		}
	}
	if f, ok := fields[tagColorMap]; ok && f.typ == 3 {
		p.ColorMap = make([]uint16, f.count)
		for i := range p.ColorMap {
			p.ColorMap[i] = r.bo.Uint16(f.raw[2*i:])
		}
	}
	if f, ok := fields[tagJPEGTables]; ok && (f.typ == 7 || f.typ == 1) {
		p.JPEGTables = f.raw
	}
	if p.Strips, err = r.strips(fields, &p); err != nil {
		return Page{}, 0, err
	}
	return p, next, nil
}

var neededTags = map[int]struct{}{tagStripOffsets: {}, tagStripByteCounts: {}, tagBitsPerSample: {}}

func (r *tiffReader) strips(fields map[int]field, p *Page) ([][]byte, error) {
	offs, okO := fields[tagStripOffsets]
	counts, okC := fields[tagStripByteCounts]
	if !okO {
		return nil, fmt.Errorf("%w: no strip offsets", ErrTruncated)
	}
	perPlane := (p.Height + p.RowsPerStrip - 1) / p.RowsPerStrip
	want := perPlane
	if p.PlanarConfig == 2 {
		want *= p.SamplesPerPixel
	}
	if offs.count < want {
		return nil, fmt.Errorf("%w: %d strips for %d rows of %d", ErrTruncated, offs.count, p.Height, p.RowsPerStrip)
	}
	if r.lim.MaxStrips > 0 && want > r.lim.MaxStrips {
		return nil, fmt.Errorf("%w: %d strips on one page", ErrTooLarge, want)
	}
	if okC && counts.count < want {
		return nil, fmt.Errorf("%w: %d strip sizes for %d strips", ErrTruncated, counts.count, want)
	}
	out := make([][]byte, want)
	for i := range out {
		o, err := r.uint(offs, i)
		if err != nil {
			return nil, err
		}
		var c uint64
		if okC {
			if c, err = r.uint(counts, i); err != nil {
				return nil, err
			}
		} else if want == 1 {
			// Some writers leave out StripByteCounts for one strip: it
			// runs to the end of the file.
			if o <= uint64(len(r.data)) {
				c = uint64(len(r.data)) - o
			}
		} else {
			return nil, fmt.Errorf("%w: no strip sizes", ErrTruncated)
		}
		if o > uint64(len(r.data)) || c > uint64(len(r.data))-o {
			return nil, fmt.Errorf("%w: strip %d (%d bytes at %d) runs past the end of the file (%d bytes)",
				ErrTruncated, i+1, c, o, len(r.data))
		}
		out[i] = r.data[o : o+c : o+c]
	}
	return out, nil
}

// uint reads the i-th value of an integer field.
func (r *tiffReader) uint(f field, i int) (uint64, error) {
	if i >= f.count {
		return 0, fmt.Errorf("%w: field has %d values, not %d", ErrTruncated, f.count, i+1)
	}
	switch f.typ {
	case 1, 6, 7:
		return uint64(f.raw[i]), nil
	case 3, 8:
		return uint64(r.bo.Uint16(f.raw[2*i:])), nil
	case 4, 9, 13:
		return uint64(r.bo.Uint32(f.raw[4*i:])), nil
	}
	return 0, fmt.Errorf("%w: an integer field of type %d", ErrUnsupported, f.typ)
}

func (r *tiffReader) rational(f field) float64 {
	switch {
	case f.count == 0:
		return 0
	case f.typ == 5 || f.typ == 10:
		num, den := r.bo.Uint32(f.raw), r.bo.Uint32(f.raw[4:])
		if den == 0 {
			return 0
		}
		return float64(num) / float64(den)
	case f.typ == 3 || f.typ == 4:
		v, _ := r.uint(f, 0)
		return float64(v)
	}
	return 0
}
