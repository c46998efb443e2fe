"""The office console (综治委, 创建办): accounts, waves, review, results and the 约谈 loop."""
