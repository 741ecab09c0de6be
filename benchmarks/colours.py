"""The pictures' colours, line styles and markers: distinct in hue, in grey and for colour-blind
readers (Okabe-Ito), so that lines stay apart where they cross."""

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#E6C700", "#56B4E9")
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
