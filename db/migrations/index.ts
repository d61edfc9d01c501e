// Listed by hand, oldest first, so no runner depends on globbing a folder.
import { Migration20261123091902_Initial } from './Migration20261123091902_Initial.js';

export const migrationsList = [{ name: 'Migration20261123091902_Initial', class: Migration20261123091902_Initial }];
