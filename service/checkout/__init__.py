"""Checkout: the HTTP face and the jobs of the money engine (service/core/money): orders, WeChat Pay's
notifications, refunds and transfers. Domains declare what a payment buys as a purpose in their Domain and call
`create_order`, `refund_order`, `close_order` and `create_transfer` from service.core.money.
"""
