"""Checkout: orders paid through WeChat Pay, exactly-once notifications, refunds, transfers and the ledger.

Domains plug in through `purposes.register_purpose` (what a payment buys) and call `logic.create_order`,
`logic.refund_order` and `logic.create_transfer`; see purposes.py.
"""
