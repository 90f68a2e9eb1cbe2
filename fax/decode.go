package fax

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"

	"golang.org/x/image/tiff/lzw"
)

// decodeBudget is what the decoding fallback may still produce for one
// file (Limits.MaxDecoded), so that a small file claiming huge pages can
// neither exhaust memory nor keep the converter busy for minutes.
type decodeBudget struct{ left, limit int64 }

func (b *decodeBudget) take(n int64) error {
	if n > b.left {
		return fmt.Errorf("%w: decoding would take more than the %d MiB allowed for one fax", ErrTooLarge, b.limit>>20)
	}
	b.left -= n
	return nil
}

// decodedImages is the decoding fallback for pages that are not CCITT
// coded (uncompressed, LZW, Deflate, PackBits: scans and screenshots sent
// as faxes): the strips are decompressed to their samples and written as
// one Flate-compressed image in the page's colour space.
func decodedImages(p *Page, budget *decodeBudget) ([]pdfImage, error) {
	if p.PlanarConfig != 1 && p.SamplesPerPixel > 1 {
		return nil, fmt.Errorf("%w: separate colour planes", ErrUnsupported)
	}
	if p.Predictor != 1 && p.Predictor != 2 {
		return nil, fmt.Errorf("%w: predictor %d", ErrUnsupported, p.Predictor)
	}
	space, decode, err := colorSpace(p)
	if err != nil {
		return nil, err
	}
	rowBytes := (p.Width*p.SamplesPerPixel*p.BitsPerSample + 7) / 8
	if err := budget.take(int64(rowBytes) * int64(p.Height)); err != nil {
		return nil, fmt.Errorf("a page of %d×%d pixels: %w", p.Width, p.Height, err)
	}
	var raw []byte // grown as strips decode: a lying header costs nothing
	for i, s := range p.Strips {
		rows := min(p.RowsPerStrip, p.Height-i*p.RowsPerStrip)
		if rows <= 0 {
			break
		}
		want := rows * rowBytes
		b, err := decompress(p.Compression, s, want)
		if err != nil {
			return nil, fmt.Errorf("strip %d: %w", i+1, err)
		}
		if len(b) < want {
			return nil, fmt.Errorf("%w: strip %d has %d of %d bytes", ErrTruncated, i+1, len(b), want)
		}
		raw = append(raw, b[:want]...)
	}
	var z bytes.Buffer
	zw := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(zw)
	zw.Reset(&z)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	dict := fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /BitsPerComponent %d /ColorSpace %s%s /Filter /FlateDecode",
		p.Width, p.Height, p.BitsPerSample, space, decode)
	if p.Predictor == 2 {
		// The samples are still differenced: PDF undoes TIFF's predictor.
		dict += fmt.Sprintf(" /DecodeParms << /Predictor 2 /Colors %d /BitsPerComponent %d /Columns %d >>",
			p.SamplesPerPixel, p.BitsPerSample, p.Width)
	}
	return []pdfImage{{dict: dict, data: z.Bytes(), rows: p.Height}}, nil
}

// colorSpace is the PDF colour space (and /Decode array) of a page's
// samples.
func colorSpace(p *Page) (string, string, error) {
	spp, bps := p.SamplesPerPixel, p.BitsPerSample
	switch bps {
	case 1, 2, 4, 8, 16:
	default:
		return "", "", fmt.Errorf("%w: %d bits per sample", ErrUnsupported, bps)
	}
	switch {
	case p.Photometric == 0 && spp == 1:
		return "/DeviceGray", " /Decode [1 0]", nil
	case (p.Photometric == 1 || p.Photometric == -1) && spp == 1:
		return "/DeviceGray", "", nil
	case p.Photometric == 2 && spp == 3:
		return "/DeviceRGB", "", nil
	case p.Photometric == 5 && spp == 4:
		return "/DeviceCMYK", "", nil
	case p.Photometric == 3 && spp == 1 && bps <= 8:
		n := 1 << bps
		if len(p.ColorMap) < 3*n {
			return "", "", fmt.Errorf("%w: a palette image without its colour map", ErrTruncated)
		}
		var lut bytes.Buffer
		lut.WriteByte('<')
		for i := range n {
			for c := range 3 {
				fmt.Fprintf(&lut, "%02X", p.ColorMap[c*n+i]>>8)
			}
		}
		lut.WriteByte('>')
		return fmt.Sprintf("[/Indexed /DeviceRGB %d %s]", n-1, lut.String()), "", nil
	}
	return "", "", fmt.Errorf("%w: photometric %d with %d samples per pixel", ErrUnsupported, p.Photometric, spp)
}

// decompress undoes a strip's compression, reading at most want bytes.
func decompress(compression int, s []byte, want int) ([]byte, error) {
	var r io.Reader
	switch compression {
	case CompressionNone:
		return s, nil
	case CompressionPackBits:
		return unpackBits(s, want), nil
	case CompressionLZW:
		lr := lzw.NewReader(bytes.NewReader(s), lzw.MSB, 8)
		defer lr.Close()
		r = lr
	case CompressionDeflate, CompressionDeflate2:
		zr, err := zlib.NewReader(bytes.NewReader(s))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("%w: compression %d", ErrUnsupported, compression)
	}
	out := make([]byte, want)
	n, err := io.ReadFull(r, out)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return out[:n], nil
}

// unpackBits decodes Apple PackBits, stopping at want bytes.
func unpackBits(s []byte, want int) []byte {
	out := make([]byte, 0, want)
	for i := 0; i < len(s) && len(out) < want; {
		n := int(int8(s[i]))
		i++
		switch {
		case n >= 0:
			end := min(i+n+1, len(s))
			out = append(out, s[i:end]...)
			i = end
		case n != -128:
			if i >= len(s) {
				return out
			}
			for range 1 - n {
				out = append(out, s[i])
			}
			i++
		}
	}
	return out[:min(len(out), want)]
}

// jpegImages copies JPEG-compressed strips into the PDF as DCT images,
// each one made a complete JPEG stream by putting the TIFF's shared tables
// in front of it.
func jpegImages(p *Page) ([]pdfImage, error) {
	if p.PlanarConfig != 1 && p.SamplesPerPixel > 1 {
		return nil, fmt.Errorf("%w: JPEG with separate colour planes", ErrUnsupported)
	}
	space := ""
	switch p.SamplesPerPixel {
	case 1:
		space = "/DeviceGray"
	case 3:
		space = "/DeviceRGB"
	case 4:
		space = "/DeviceCMYK"
	default:
		return nil, fmt.Errorf("%w: JPEG with %d samples per pixel", ErrUnsupported, p.SamplesPerPixel)
	}
	tables := p.JPEGTables
	if len(tables) >= 4 && tables[0] == 0xFF && tables[1] == 0xD8 && tables[len(tables)-2] == 0xFF && tables[len(tables)-1] == 0xD9 {
		tables = tables[:len(tables)-2] // SOI + tables, without EOI
	} else {
		tables = nil
	}
	images := make([]pdfImage, 0, len(p.Strips))
	for i, s := range p.Strips {
		row := i * p.RowsPerStrip
		rows := min(p.RowsPerStrip, p.Height-row)
		if rows <= 0 {
			break
		}
		if len(s) < 4 || s[0] != 0xFF || s[1] != 0xD8 {
			return nil, fmt.Errorf("%w: JPEG strip %d does not start with SOI", ErrTruncated, i+1)
		}
		data := s
		if tables != nil {
			data = append(append(make([]byte, 0, len(tables)+len(s)), tables...), s[2:]...)
		}
		dict := fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /BitsPerComponent 8 /ColorSpace %s /Filter /DCTDecode",
			p.Width, rows, space)
		images = append(images, pdfImage{dict: dict, data: data, row: row, rows: rows})
	}
	return images, nil
}
