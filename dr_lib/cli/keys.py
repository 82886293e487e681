"""``k3s-dr keygen``: the key pair that signs archives and report seals (docs/security.md)."""

from __future__ import annotations

import click

from dr_lib.cli.common import finish, gather, print_json
from dr_lib.jobs.keys import KeygenOptions, keygen


@click.command("keygen")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False),
              help="Where the pair goes: signing-key.pem (0600) and verify-key.pem; created 0700 when missing.")
@click.option("--force", is_flag=True, help="Move an existing pair aside (<name>.<UTC>.old, never deleted) first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: signing_key, verify_key, key_id.")
@gather(options=KeygenOptions)
def keygen_command(ctx: click.Context, options: KeygenOptions, as_json: bool) -> None:
    """Make an Ed25519 key pair: the signing key signs archives (backup) and report seals; copy the
    verify key to every host that restores, and offsite: without it a restore cannot check."""
    made = keygen(options)
    if as_json:
        print_json(made.to_dict())
    else:
        files = made.files
        for moved in files.moved_aside:
            click.echo(f"moved aside: {moved}")
        click.echo(f"key {files.key_id}: signing key {files.signing_key} (keep it private), verify key "
                   f"{files.verify_key} (copy it offsite and to every host that restores)")
    finish(made)


COMMANDS: list[click.Command] = [keygen_command]
