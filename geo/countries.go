package geo

// countryPoint returns a representative point and the continent of an
// ISO 3166-1 alpha-2 country code (and XK, Kosovo, which MaxMind uses).
//
// Country databases (GeoLite2-Country and the like) carry no coordinates, and
// City databases have records that know only the country; without a point such
// clients could not take part in the nearest-site (geo) strategy. The point is
// the capital city, except for the United States, whose capital sits at the
// edge of the population, where it is the 2020 mean centre of population
// (near Hartville, Missouri). Two decimals (about 1 km) are plenty: a
// country-level guess is only as good as the country is small.
//
// It is a switch, not a map, so that the table is code rather than a
// package-level variable; it only runs when a database record is first
// decoded, never per query.
func countryPoint(cc string) (lat, lon float64, continent string, ok bool) {
	switch cc {
	case "AD":
		return 42.51, 1.52, "EU", true
	case "AE":
		return 24.45, 54.38, "AS", true
	case "AF":
		return 34.53, 69.17, "AS", true
	case "AG":
		return 17.12, -61.85, "NA", true
	case "AI":
		return 18.22, -63.06, "NA", true
	case "AL":
		return 41.33, 19.82, "EU", true
	case "AM":
		return 40.18, 44.51, "AS", true
	case "AO":
		return -8.84, 13.23, "AF", true
	case "AQ":
		return -77.85, 166.67, "AN", true
	case "AR":
		return -34.60, -58.38, "SA", true
	case "AS":
		return -14.28, -170.70, "OC", true
	case "AT":
		return 48.21, 16.37, "EU", true
	case "AU":
		return -35.28, 149.13, "OC", true
	case "AW":
		return 12.52, -70.03, "NA", true
	case "AX":
		return 60.10, 19.94, "EU", true
	case "AZ":
		return 40.41, 49.87, "AS", true
	case "BA":
		return 43.86, 18.41, "EU", true
	case "BB":
		return 13.10, -59.62, "NA", true
	case "BD":
		return 23.81, 90.41, "AS", true
	case "BE":
		return 50.85, 4.35, "EU", true
	case "BF":
		return 12.37, -1.52, "AF", true
	case "BG":
		return 42.70, 23.32, "EU", true
	case "BH":
		return 26.23, 50.59, "AS", true
	case "BI":
		return -3.43, 29.92, "AF", true
	case "BJ":
		return 6.50, 2.60, "AF", true
	case "BL":
		return 17.90, -62.85, "NA", true
	case "BM":
		return 32.29, -64.78, "NA", true
	case "BN":
		return 4.90, 114.94, "AS", true
	case "BO":
		return -16.50, -68.15, "SA", true
	case "BQ":
		return 12.15, -68.27, "NA", true
	case "BR":
		return -15.79, -47.88, "SA", true
	case "BS":
		return 25.05, -77.35, "NA", true
	case "BT":
		return 27.47, 89.64, "AS", true
	case "BV":
		return -54.42, 3.36, "AN", true
	case "BW":
		return -24.65, 25.91, "AF", true
	case "BY":
		return 53.90, 27.57, "EU", true
	case "BZ":
		return 17.25, -88.77, "NA", true
	case "CA":
		return 45.42, -75.70, "NA", true
	case "CC":
		return -12.19, 96.83, "AS", true
	case "CD":
		return -4.44, 15.27, "AF", true
	case "CF":
		return 4.39, 18.56, "AF", true
	case "CG":
		return -4.26, 15.24, "AF", true
	case "CH":
		return 46.95, 7.45, "EU", true
	case "CI":
		return 6.83, -5.29, "AF", true
	case "CK":
		return -21.21, -159.78, "OC", true
	case "CL":
		return -33.45, -70.67, "SA", true
	case "CM":
		return 3.87, 11.52, "AF", true
	case "CN":
		return 39.90, 116.41, "AS", true
	case "CO":
		return 4.71, -74.07, "SA", true
	case "CR":
		return 9.93, -84.08, "NA", true
	case "CU":
		return 23.11, -82.37, "NA", true
	case "CV":
		return 14.93, -23.51, "AF", true
	case "CW":
		return 12.11, -68.93, "NA", true
	case "CX":
		return -10.42, 105.68, "AS", true
	case "CY":
		return 35.17, 33.37, "EU", true
	case "CZ":
		return 50.08, 14.44, "EU", true
	case "DE":
		return 52.52, 13.40, "EU", true
	case "DJ":
		return 11.59, 43.15, "AF", true
	case "DK":
		return 55.68, 12.57, "EU", true
	case "DM":
		return 15.30, -61.39, "NA", true
	case "DO":
		return 18.49, -69.93, "NA", true
	case "DZ":
		return 36.75, 3.06, "AF", true
	case "EC":
		return -0.18, -78.47, "SA", true
	case "EE":
		return 59.44, 24.75, "EU", true
	case "EG":
		return 30.04, 31.24, "AF", true
	case "EH":
		return 27.15, -13.20, "AF", true
	case "ER":
		return 15.32, 38.93, "AF", true
	case "ES":
		return 40.42, -3.70, "EU", true
	case "ET":
		return 9.03, 38.74, "AF", true
	case "FI":
		return 60.17, 24.94, "EU", true
	case "FJ":
		return -18.14, 178.44, "OC", true
	case "FK":
		return -51.70, -57.85, "SA", true
	case "FM":
		return 6.92, 158.16, "OC", true
	case "FO":
		return 62.01, -6.77, "EU", true
	case "FR":
		return 48.86, 2.35, "EU", true
	case "GA":
		return 0.42, 9.47, "AF", true
	case "GB":
		return 51.51, -0.13, "EU", true
	case "GD":
		return 12.06, -61.75, "NA", true
	case "GE":
		return 41.72, 44.79, "AS", true
	case "GF":
		return 4.92, -52.33, "SA", true
	case "GG":
		return 49.46, -2.54, "EU", true
	case "GH":
		return 5.60, -0.19, "AF", true
	case "GI":
		return 36.14, -5.35, "EU", true
	case "GL":
		return 64.18, -51.72, "NA", true
	case "GM":
		return 13.45, -16.58, "AF", true
	case "GN":
		return 9.64, -13.58, "AF", true
	case "GP":
		return 16.00, -61.73, "NA", true
	case "GQ":
		return 3.75, 8.78, "AF", true
	case "GR":
		return 37.98, 23.73, "EU", true
	case "GS":
		return -54.28, -36.49, "AN", true
	case "GT":
		return 14.63, -90.51, "NA", true
	case "GU":
		return 13.48, 144.75, "OC", true
	case "GW":
		return 11.86, -15.60, "AF", true
	case "GY":
		return 6.80, -58.16, "SA", true
	case "HK":
		return 22.32, 114.17, "AS", true
	case "HM":
		return -53.10, 73.52, "AN", true
	case "HN":
		return 14.07, -87.19, "NA", true
	case "HR":
		return 45.81, 15.98, "EU", true
	case "HT":
		return 18.54, -72.34, "NA", true
	case "HU":
		return 47.50, 19.04, "EU", true
	case "ID":
		return -6.21, 106.85, "AS", true
	case "IE":
		return 53.35, -6.26, "EU", true
	case "IL":
		return 31.77, 35.21, "AS", true
	case "IM":
		return 54.15, -4.48, "EU", true
	case "IN":
		return 28.61, 77.21, "AS", true
	case "IO":
		return -7.31, 72.41, "AS", true
	case "IQ":
		return 33.31, 44.36, "AS", true
	case "IR":
		return 35.69, 51.39, "AS", true
	case "IS":
		return 64.15, -21.94, "EU", true
	case "IT":
		return 41.90, 12.50, "EU", true
	case "JE":
		return 49.19, -2.11, "EU", true
	case "JM":
		return 17.97, -76.79, "NA", true
	case "JO":
		return 31.95, 35.93, "AS", true
	case "JP":
		return 35.68, 139.69, "AS", true
	case "KE":
		return -1.29, 36.82, "AF", true
	case "KG":
		return 42.87, 74.59, "AS", true
	case "KH":
		return 11.56, 104.92, "AS", true
	case "KI":
		return 1.33, 172.98, "OC", true
	case "KM":
		return -11.70, 43.26, "AF", true
	case "KN":
		return 17.30, -62.72, "NA", true
	case "KP":
		return 39.04, 125.76, "AS", true
	case "KR":
		return 37.57, 126.98, "AS", true
	case "KW":
		return 29.38, 47.99, "AS", true
	case "KY":
		return 19.29, -81.37, "NA", true
	case "KZ":
		return 51.17, 71.45, "AS", true
	case "LA":
		return 17.97, 102.63, "AS", true
	case "LB":
		return 33.89, 35.50, "AS", true
	case "LC":
		return 14.01, -60.99, "NA", true
	case "LI":
		return 47.14, 9.52, "EU", true
	case "LK":
		return 6.93, 79.86, "AS", true
	case "LR":
		return 6.30, -10.80, "AF", true
	case "LS":
		return -29.31, 27.48, "AF", true
	case "LT":
		return 54.69, 25.28, "EU", true
	case "LU":
		return 49.61, 6.13, "EU", true
	case "LV":
		return 56.95, 24.11, "EU", true
	case "LY":
		return 32.89, 13.19, "AF", true
	case "MA":
		return 34.02, -6.83, "AF", true
	case "MC":
		return 43.74, 7.42, "EU", true
	case "MD":
		return 47.01, 28.86, "EU", true
	case "ME":
		return 42.44, 19.26, "EU", true
	case "MF":
		return 18.07, -63.08, "NA", true
	case "MG":
		return -18.88, 47.51, "AF", true
	case "MH":
		return 7.09, 171.38, "OC", true
	case "MK":
		return 42.00, 21.43, "EU", true
	case "ML":
		return 12.64, -8.00, "AF", true
	case "MM":
		return 19.76, 96.08, "AS", true
	case "MN":
		return 47.89, 106.91, "AS", true
	case "MO":
		return 22.20, 113.54, "AS", true
	case "MP":
		return 15.18, 145.75, "OC", true
	case "MQ":
		return 14.62, -61.06, "NA", true
	case "MR":
		return 18.08, -15.98, "AF", true
	case "MS":
		return 16.79, -62.21, "NA", true
	case "MT":
		return 35.90, 14.51, "EU", true
	case "MU":
		return -20.16, 57.50, "AF", true
	case "MV":
		return 4.18, 73.51, "AS", true
	case "MW":
		return -13.96, 33.79, "AF", true
	case "MX":
		return 19.43, -99.13, "NA", true
	case "MY":
		return 3.14, 101.69, "AS", true
	case "MZ":
		return -25.97, 32.57, "AF", true
	case "NA":
		return -22.56, 17.08, "AF", true
	case "NC":
		return -22.28, 166.46, "OC", true
	case "NE":
		return 13.51, 2.11, "AF", true
	case "NF":
		return -29.06, 167.96, "OC", true
	case "NG":
		return 9.08, 7.40, "AF", true
	case "NI":
		return 12.11, -86.24, "NA", true
	case "NL":
		return 52.37, 4.90, "EU", true
	case "NO":
		return 59.91, 10.75, "EU", true
	case "NP":
		return 27.72, 85.32, "AS", true
	case "NR":
		return -0.55, 166.92, "OC", true
	case "NU":
		return -19.06, -169.92, "OC", true
	case "NZ":
		return -41.29, 174.78, "OC", true
	case "OM":
		return 23.59, 58.41, "AS", true
	case "PA":
		return 8.98, -79.52, "NA", true
	case "PE":
		return -12.05, -77.04, "SA", true
	case "PF":
		return -17.54, -149.57, "OC", true
	case "PG":
		return -9.44, 147.18, "OC", true
	case "PH":
		return 14.60, 120.98, "AS", true
	case "PK":
		return 33.68, 73.05, "AS", true
	case "PL":
		return 52.23, 21.01, "EU", true
	case "PM":
		return 46.78, -56.18, "NA", true
	case "PN":
		return -25.07, -130.10, "OC", true
	case "PR":
		return 18.47, -66.11, "NA", true
	case "PS":
		return 31.90, 35.20, "AS", true
	case "PT":
		return 38.72, -9.14, "EU", true
	case "PW":
		return 7.50, 134.62, "OC", true
	case "PY":
		return -25.26, -57.58, "SA", true
	case "QA":
		return 25.29, 51.53, "AS", true
	case "RE":
		return -20.88, 55.45, "AF", true
	case "RO":
		return 44.43, 26.10, "EU", true
	case "RS":
		return 44.79, 20.45, "EU", true
	case "RU":
		return 55.76, 37.62, "EU", true
	case "RW":
		return -1.95, 30.06, "AF", true
	case "SA":
		return 24.71, 46.68, "AS", true
	case "SB":
		return -9.43, 159.95, "OC", true
	case "SC":
		return -4.62, 55.45, "AF", true
	case "SD":
		return 15.50, 32.56, "AF", true
	case "SE":
		return 59.33, 18.07, "EU", true
	case "SG":
		return 1.29, 103.85, "AS", true
	case "SH":
		return -15.92, -5.72, "AF", true
	case "SI":
		return 46.06, 14.51, "EU", true
	case "SJ":
		return 78.22, 15.65, "EU", true
	case "SK":
		return 48.15, 17.11, "EU", true
	case "SL":
		return 8.48, -13.23, "AF", true
	case "SM":
		return 43.94, 12.45, "EU", true
	case "SN":
		return 14.72, -17.47, "AF", true
	case "SO":
		return 2.05, 45.32, "AF", true
	case "SR":
		return 5.85, -55.20, "SA", true
	case "SS":
		return 4.85, 31.58, "AF", true
	case "ST":
		return 0.34, 6.73, "AF", true
	case "SV":
		return 13.69, -89.22, "NA", true
	case "SX":
		return 18.03, -63.05, "NA", true
	case "SY":
		return 33.51, 36.29, "AS", true
	case "SZ":
		return -26.31, 31.14, "AF", true
	case "TC":
		return 21.46, -71.14, "NA", true
	case "TD":
		return 12.13, 15.06, "AF", true
	case "TF":
		return -49.35, 70.22, "AN", true
	case "TG":
		return 6.13, 1.22, "AF", true
	case "TH":
		return 13.76, 100.50, "AS", true
	case "TJ":
		return 38.56, 68.79, "AS", true
	case "TK":
		return -9.20, -171.85, "OC", true
	case "TL":
		return -8.56, 125.57, "OC", true
	case "TM":
		return 37.96, 58.33, "AS", true
	case "TN":
		return 36.81, 10.18, "AF", true
	case "TO":
		return -21.14, -175.20, "OC", true
	case "TR":
		return 39.93, 32.86, "AS", true
	case "TT":
		return 10.66, -61.51, "NA", true
	case "TV":
		return -8.52, 179.20, "OC", true
	case "TW":
		return 25.03, 121.57, "AS", true
	case "TZ":
		return -6.16, 35.75, "AF", true
	case "UA":
		return 50.45, 30.52, "EU", true
	case "UG":
		return 0.35, 32.58, "AF", true
	case "UM":
		return 19.28, 166.65, "OC", true
	case "US":
		return 37.42, -92.38, "NA", true
	case "UY":
		return -34.90, -56.16, "SA", true
	case "UZ":
		return 41.30, 69.24, "AS", true
	case "VA":
		return 41.90, 12.45, "EU", true
	case "VC":
		return 13.16, -61.22, "NA", true
	case "VE":
		return 10.48, -66.90, "SA", true
	case "VG":
		return 18.43, -64.62, "NA", true
	case "VI":
		return 18.34, -64.93, "NA", true
	case "VN":
		return 21.03, 105.85, "AS", true
	case "VU":
		return -17.73, 168.32, "OC", true
	case "WF":
		return -13.28, -176.17, "OC", true
	case "WS":
		return -13.83, -171.76, "OC", true
	case "XK":
		return 42.66, 21.17, "EU", true
	case "YE":
		return 15.37, 44.19, "AS", true
	case "YT":
		return -12.78, 45.23, "AF", true
	case "ZA":
		return -25.75, 28.19, "AF", true
	case "ZM":
		return -15.39, 28.32, "AF", true
	case "ZW":
		return -17.83, 31.05, "AF", true
	}
	return 0, 0, "", false
}
