package extract

import (
	"testing"
	"time"
)

func TestDate(t *testing.T) {
	ref := time.Date(2019, 6, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		opts Options
		text string
		want string // "" = no date
	}{
		{"dd/mm/yyyy labelled", Options{}, "DATE: 23/01/2018 10:22", "2018-01-23"},
		{"dd-mm-yy with time", Options{}, "24-11-17 13:11 SH01 T2", "2017-11-24"},
		{"yyyy-mm-dd", Options{}, "2018-03-09 18:54", "2018-03-09"},
		{"dd.mm.yyyy german", Options{}, "Datum: 09.06.2018 16:00", "2018-06-09"},
		{"dd MON yyyy", Options{}, "03 MAR 2018 18:22", "2018-03-03"},
		{"dd/MON/yyyy", Options{}, "CB# 45976649320 25/FEB/2017 07:43:54", "2017-02-25"},
		{"dd-Mon-yy", Options{}, "Date 5-Jan-19", "2019-01-05"},
		{"Mon dd, yyyy us", Options{}, "Mar 15, 2018 7:45 PM", "2018-03-15"},
		{"full month name", Options{}, "Tuesday, 4 September 2018", "2018-09-04"},
		{"french month", Options{}, "Le 12 févr. 2019", "2019-02-12"},
		{"malay month", Options{}, "Tarikh: 7 Ogos 2018", "2018-08-07"},
		{"ocr noise 0l for 01", Options{}, "Date : 0l/02/2018", "2018-02-01"},
		{"ocr O for 0 in year", Options{}, "DATE 12/03/2O18", "2018-03-12"},
		{"impossible date rejected", Options{}, "DATE 31/02/2018\nPRINTED 01/03/2018", "2018-03-01"},
		{"month 13 means day first", Options{}, "DATE 13/03/2017", "2017-03-13"},
		{"day 13 second means month first", Options{}, "DATE 03/13/2017", "2017-03-13"},
		{"ambiguous default is day first", Options{}, "DATE 03/04/2018 RM 5.00", "2018-04-03"},
		{"ambiguous with month-first option", Options{DateOrder: DateOrderMDY}, "DATE 03/04/2018", "2018-03-04"},
		{"ambiguous resolved by another date on the receipt", Options{}, "03/04/2018 10:00\nValid until 12/25/2018", "2018-03-04"},
		{"ambiguous with usd is month first", Options{}, "Date 03/04/2018\nTOTAL $5.00\nCity, USA", "2018-03-04"},
		{"label beats unlabelled", Options{}, "Member since 01/01/2010\nDATE: 15/06/2018", "2018-06-15"},
		{"transaction date beats expiry", Options{}, "15/06/2018 14:02\nVoucher valid until 15/07/2018", "2018-06-15"},
		{"printed date loses to sale date", Options{}, "SALES DATE: 29/03/2018 20:19\nPRINTED ON 30/03/2018", "2018-03-29"},
		{"future date rejected with reference", Options{ReferenceDate: ref}, "DATE 15/08/2019\n12/05/2019 10:00", "2019-05-12"},
		{"ambiguous reading in the future takes the other", Options{ReferenceDate: ref}, "DATE 01/08/2019", "2019-01-08"},
		{"two-digit year near reference", Options{ReferenceDate: ref}, "DATE 01/05/99", "1999-05-01"},
		{"month and day with no year uses reference", Options{ReferenceDate: ref}, "Jun 12 10:45", "2019-06-12"},
		{"month and day without reference gives nothing", Options{}, "Jun 12 10:45", ""},
		{"implausible year", Options{}, "DATE 12/03/1850", ""},
		{"phone and amounts are not dates", Options{}, "TEL 03-3271 9872\nTOTAL 12.00", ""},
		{"date next to an overlapping number", Options{}, "ORD #95 -REG #19- 24/07/2016 14:21:51", "2016-07-24"},
		{"ocr misread label Dale", Options{}, "Inv 2017/55\nDale 04/05/2017 7:19:43 AM", "2017-05-04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(tt.opts).Extract(tt.text, nil)
			got := ""
			if f.Date != nil {
				got = f.Date.Value
			}
			if got != tt.want {
				t.Errorf("date = %q (%+v), want %q", got, f.Date, tt.want)
			}
		})
	}
}

func TestExpandYear(t *testing.T) {
	ref := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[int]int{18: 2018, 20: 2020, 21: 1921, 99: 1999} {
		if got := expandYear(in, ref); got != want {
			t.Errorf("expandYear(%d, 2019) = %d, want %d", in, got, want)
		}
	}
	if got := expandYear(69, time.Time{}); got != 2069 {
		t.Errorf("expandYear(69) = %d", got)
	}
	if got := expandYear(70, time.Time{}); got != 1970 {
		t.Errorf("expandYear(70) = %d", got)
	}
}
