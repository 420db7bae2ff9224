"""Mon coach digital: the Région Sud digital-coaching cheque service."""
