package bytesize

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false},
		{"4096", 4096, false},
		{"64KiB", 64 << 10, false},
		{"64k", 64 << 10, false},
		{"64MiB", 64 << 20, false},
		{"5GiB", 5 << 30, false},
		{"5 gib", 5 << 30, false},
		{"1.5GiB", 3 << 29, false},
		{"1TiB", 1 << 40, false},
		{"1KB", 1000, false},
		{"2GB", 2e9, false},
		{" 7 ", 7, false},
		{"", 0, true},
		{"GiB", 0, true},
		{"-1", 0, true},
		{"1.5", 0, true},
		{"12XB", 0, true},
		{"99999999999999999999", 0, true},
		{"9000000TiB", 0, true},
		{"1..2MiB", 0, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{64 << 20, "64.0 MiB"},
		{3 << 29, "1.5 GiB"},
		{5 << 40, "5.0 TiB"},
	} {
		if got := Format(tc.in); got != tc.want {
			t.Errorf("Format(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
