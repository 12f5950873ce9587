"""Command line for the care-staff side: create staff accounts, set shifts, make the VAPID key.

Example: ``python -m hub.alerts.cli --state-dir var/hub/falls add-staff --username anna --home solhaven --rooms 12,14``
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from hub.alerts.auth import hash_password
from hub.alerts.push import load_or_create_vapid_key, public_key_b64
from hub.alerts.store import AlertStore

PASSWORD_ENV = "FALLS_STAFF_PASSWORD"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub.alerts.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True, help="the falls service's state dir")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("vapid-key", help="create the VAPID key if missing and print its public key")
    add = sub.add_parser("add-staff", help=f"create an account (password from ${PASSWORD_ENV} or a prompt)")
    add.add_argument("--username", required=True)
    add.add_argument("--home", required=True, help="care home id, as the devices send it in care_home")
    add.add_argument("--name", help="name shown to colleagues (default: the user name)")
    add.add_argument("--rooms", default="", help="comma-separated rooms this person answers first")
    add.add_argument("--language", choices=("da", "en"), default="da")
    shift = sub.add_parser("shift", help="put an account on or off shift")
    shift.add_argument("--username", required=True)
    shift.add_argument("state", choices=("on", "off"))
    args = parser.parse_args(argv)

    args.state_dir.mkdir(parents=True, exist_ok=True)
    if args.command == "vapid-key":
        print(public_key_b64(load_or_create_vapid_key(args.state_dir)))
        return 0
    store = AlertStore(args.state_dir / "falls.sqlite")
    if args.command == "add-staff":
        password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"Password for {args.username}: ")
        rooms = [r.strip() for r in args.rooms.split(",") if r.strip()]
        staff = store.add_staff(
            args.username, args.home, args.name or args.username, hash_password(password), rooms, args.language
        )
        print(f"created {staff.username} (id {staff.id}) in {staff.care_home}")
        return 0
    found = store.staff_login(args.username)
    if found is None:
        print(f"no account {args.username}", file=sys.stderr)
        return 1
    store.update_staff(found[0].id, on_shift=args.state == "on")
    print(f"{args.username} is now {'on' if args.state == 'on' else 'off'} shift")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
