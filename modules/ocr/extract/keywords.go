package extract

import "strings"

// kwSet is a set of receipt keywords found on a line.
type kwSet uint64

const (
	kwTotal    kwSet = 1 << iota // TOTAL, JUMLAH, SUMME, MONTANT, ...
	kwSub                        // SUBTOTAL, SUB
	kwGrand                      // GRAND
	kwDue                        // DUE
	kwBalance                    // BALANCE, BAL
	kwPayable                    // PAYABLE
	kwPay                        // PAY (TO PAY, PLEASE PAY)
	kwNet                        // NET, NETT
	kwRounded                    // ROUNDED
	kwRounding                   // ROUNDING, ROUND
	kwFinal                      // FINAL
	kwAfter                      // AFTER
	kwAdj                        // ADJ, ADJUSTMENT
	kwTax                        // GST, VAT, SST, TAX, HST, MWST, TVA, IVA, ...
	kwIncl                       // INCL, INCLUSIVE, INCLUDING, INKL, TTC
	kwExcl                       // EXCL, EXCLUDING, BEFORE, HT
	kwIncludes                   // INCLUDES, INCLUDED (the tax part "included in total")
	kwChange                     // CHANGE, RUCKGELD, RENDU, CAMBIO, KEMBALI
	kwCash                       // CASH, TUNAI, BAR, ESPECES, EFECTIVO
	kwTender                     // TENDER, TENDERED, RECEIVED, PAID, PAYMENT
	kwCard                       // CARD, VISA, MASTERCARD, AMEX, CREDIT, DEBIT, EFTPOS, ...
	kwQty                        // QTY, QUANTITY, PCS, UNITS
	kwItem                       // ITEM, ITEMS, COUNT, ARTICLES
	kwDiscount                   // DISCOUNT, SAVING, PROMOTION, VOUCHER, COUPON
	kwSummary                    // SUMMARY, ANALYSIS
	kwAmount                     // AMOUNT, AMT, SUM
	kwSales                      // SALES, SALE
	kwService                    // SERVICE, TIP, GRATUITY
	kwCharge                     // CHARGE
	kwDate                       // DATE, TARIKH, DATUM, FECHA, DATA
	kwPrint                      // PRINT, PRINTED, REPRINT
	kwExpiry                     // EXP, EXPIRY, EXPIRES, VALID, UNTIL, WARRANTY, BIRTH, DOB, BEST
	kwEnding                     // ENDING, ENDS
	kwAcct                       // ACCT, ACCOUNT, PAN, NO (as in CARD NO)
	kwPoints                     // POINTS, PTS, REWARD, LOYALTY, MEMBER
	kwDeposit                    // DEPOSIT, REFUND, RETURN
	kwPrevious                   // PREVIOUS, PREV, OUTSTANDING
)

// keywordDict maps upper-case words to keywords. Exact matches only; a few
// long keywords are also matched with one OCR edit (see fuzzyKeywords).
var keywordDict = map[string]kwSet{
	"TOTAL": kwTotal, "TOTALS": kwTotal, "TOTAAL": kwTotal, "TOTALE": kwTotal, "JUMLAH": kwTotal,
	"SUMME": kwTotal, "GESAMT": kwTotal, "GESAMTBETRAG": kwTotal | kwDue, "MONTANT": kwAmount, "IMPORTE": kwAmount,
	"BETRAG": kwAmount, "SUMA": kwTotal, "TOT": kwTotal, "TTL": kwTotal,
	"SUBTOTAL": kwSub, "SUB": kwSub, "ZWISCHENSUMME": kwSub, "SOUS": kwSub, "SUBTOT": kwSub,
	"GRAND": kwGrand, "DUE": kwDue, "BALANCE": kwBalance, "BAL": kwBalance,
	"PAYABLE": kwPayable, "PAY": kwPay, "PAYER": kwPay, "BAYAR": kwPay,
	"NET": kwNet, "NETT": kwNet, "NETTO": kwExcl,
	"ROUNDED": kwRounded, "ROUNDING": kwRounding, "ROUND": kwRounding, "RND": kwRounding, "PEMBUNDARAN": kwRounding,
	"FINAL": kwFinal, "AFTER": kwAfter,
	"ADJ": kwAdj, "ADJUSTMENT": kwAdj, "ADJUSTMENTS": kwAdj, "ADJT": kwAdj,
	"GST": kwTax, "VAT": kwTax, "SST": kwTax, "TAX": kwTax, "TAXES": kwTax, "HST": kwTax, "PST": kwTax,
	"QST": kwTax, "MWST": kwTax, "UST": kwTax, "TVA": kwTax, "IVA": kwTax, "BTW": kwTax, "PPN": kwTax, "CUKAI": kwTax,
	"INCL": kwIncl, "INC": kwIncl, "INCLUSIVE": kwIncl, "INCLUDING": kwIncl, "INKL": kwIncl, "TTC": kwIncl | kwDue,
	"EXCL": kwExcl, "EXC": kwExcl, "EXCLUDING": kwExcl, "EXCLUSIVE": kwExcl, "BEFORE": kwExcl, "HT": kwExcl, "EXKL": kwExcl,
	"INCLUDES": kwIncludes, "INCLUDED": kwIncludes, "ENTHALTEN": kwIncludes,
	"CHANGE": kwChange, "RUCKGELD": kwChange, "RÜCKGELD": kwChange, "RENDU": kwChange, "CAMBIO": kwChange,
	"KEMBALI": kwChange, "RENDUE": kwChange, "MONNAIE": kwChange, "BAKI": kwChange, "VUELTO": kwChange,
	"CASH": kwCash, "TUNAI": kwCash, "BAR": kwCash, "ESPECES": kwCash, "ESPÈCES": kwCash, "EFECTIVO": kwCash, "CONTANTI": kwCash,
	"TENDER": kwTender, "TENDERED": kwTender, "RECEIVED": kwTender, "PAID": kwTender, "PAYMENT": kwTender, "GEGEBEN": kwTender,
	"CARD": kwCard, "VISA": kwCard, "MASTERCARD": kwCard, "MASTER": kwCard, "AMEX": kwCard, "CREDIT": kwCard,
	"DEBIT": kwCard, "EFTPOS": kwCard, "NETS": kwCard, "MAESTRO": kwCard, "DISCOVER": kwCard, "JCB": kwCard,
	"UNIONPAY": kwCard, "GIROCARD": kwCard, "KARTE": kwCard, "CARTE": kwCard, "TARJETA": kwCard,
	"QTY": kwQty, "QUANTITY": kwQty, "PCS": kwQty, "UNITS": kwQty, "QTE": kwQty,
	"ITEM": kwItem, "ITEMS": kwItem, "COUNT": kwItem, "ARTICLES": kwItem, "ARTIKEL": kwItem,
	"DISCOUNT": kwDiscount, "DISC": kwDiscount, "SAVING": kwDiscount, "SAVINGS": kwDiscount, "SAVED": kwDiscount,
	"PROMOTION": kwDiscount, "PROMO": kwDiscount, "VOUCHER": kwDiscount, "COUPON": kwDiscount, "REBATE": kwDiscount, "RABATT": kwDiscount,
	"SUMMARY": kwSummary, "ANALYSIS": kwSummary,
	"AMOUNT": kwAmount, "AMT": kwAmount, "AMOUNTS": kwAmount,
	"SALES": kwSales, "SALE": kwSales,
	"SERVICE": kwService, "TIP": kwService, "TIPS": kwService, "GRATUITY": kwService,
	"CHARGE": kwCharge, "CHARGES": kwCharge,
	"DATE": kwDate, "DATED": kwDate, "DALE": kwDate, "DAIE": kwDate, "OATE": kwDate, "DATF": kwDate, "TARIKH": kwDate, "DATUM": kwDate, "FECHA": kwDate, "DATA": kwDate, "DT": kwDate,
	"PRINT": kwPrint, "PRINTED": kwPrint, "REPRINT": kwPrint, "REPRINTED": kwPrint,
	"EXP": kwExpiry, "EXPIRY": kwExpiry, "EXPIRES": kwExpiry, "EXPIRE": kwExpiry, "VALID": kwExpiry, "UNTIL": kwExpiry,
	"WARRANTY": kwExpiry, "BIRTH": kwExpiry, "DOB": kwExpiry, "BEST": kwExpiry, "USE": kwExpiry,
	"ENDING": kwEnding, "ENDS": kwEnding,
	"ACCT": kwAcct, "ACCOUNT": kwAcct, "PAN": kwAcct,
	"POINTS": kwPoints, "PTS": kwPoints, "POINT": kwPoints, "REWARD": kwPoints, "REWARDS": kwPoints, "LOYALTY": kwPoints,
	"DEPOSIT": kwDeposit, "REFUND": kwDeposit, "REFUNDED": kwDeposit,
	"PREVIOUS": kwPrevious, "PREV": kwPrevious, "OUTSTANDING": kwPrevious,
}

// fuzzyKeywords are long enough to match with one OCR edit ("TOTAI",
// "ROUNDlNG", "NETI" is too short and handled by nothing).
var fuzzyKeywords = []struct {
	word string
	kw   kwSet
}{
	{"TOTAL", kwTotal}, {"SUBTOTAL", kwSub}, {"CHANGE", kwChange}, {"ROUNDING", kwRounding},
	{"ROUNDED", kwRounded}, {"AMOUNT", kwAmount}, {"BALANCE", kwBalance}, {"PAYABLE", kwPayable},
	{"TENDERED", kwTender}, {"DISCOUNT", kwDiscount}, {"INCLUSIVE", kwIncl}, {"EXCLUDING", kwExcl},
	{"INCLUDING", kwIncl}, {"ADJUSTMENT", kwAdj}, {"SUMMARY", kwSummary}, {"RECEIVED", kwTender},
	{"PAYMENT", kwTender}, {"SAVINGS", kwDiscount}, {"QUANTITY", kwQty}, {"GRAND", kwGrand},
}

// keywordsOf returns the keywords in words. Adjacent "SUB" + "TOTAL" make a
// subtotal; OCR-split "TO TAL" is not rejoined.
func keywordsOf(words []string) kwSet {
	var k kwSet
	for _, w := range words {
		if len(w) > 14 {
			continue
		}
		if v, ok := keywordDict[w]; ok {
			k |= v
			continue
		}
		if len(w) >= 5 {
			for _, f := range fuzzyKeywords {
				if len(f.word)-len(w) <= 1 && len(w)-len(f.word) <= 1 && (f.word[0] == w[0] || f.word[len(f.word)-1] == w[len(w)-1]) && editDistance1(f.word, w) {
					// "CHARGE" is a word of its own and is in the dictionary already.
					k |= f.kw
					break
				}
			}
		}
		// glued forms: "FINALTOTAL", "GRANDTOTAL", "NETTOTAL", "SUBTOTAL"
		if len(w) > 7 && strings.HasSuffix(w, "TOTAL") {
			k |= kwTotal | keywordDict[w[:len(w)-5]]
		} else if len(w) > 8 && w[:3] == "SUB" && editDistance1(w[3:], "TOTAL") {
			k |= kwSub
		}
	}
	return k
}

func (k kwSet) has(x kwSet) bool { return k&x != 0 }
