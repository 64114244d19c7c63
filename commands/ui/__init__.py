"""The neutral UI model handlers return (replies, cards, buttons, forms) and its markup."""
