//! Card verification values: CVV/CVV2/iCVV, Amex CSC, dCVV, CVC3, Discover dynamic CVV, CAVV.
