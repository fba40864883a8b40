"""The whole customer: the crm/ record joined with what higher rooms know of them (conversations,
later orders). It sits above crm/ and tickets/ so that neither has to import the other."""
