from voucher_service.cli import app

app(prog_name="voucher-service")
